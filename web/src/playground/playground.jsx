// GraphiQL for callme, bundled with React into the binary: no CDN, so it works
// on a canteen network without internet. Queries and mutations go over HTTP;
// subscriptions over graphql-transport-ws (graphql-ws), with the Headers tab's
// Authorization sent in connection_init.
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/style.css';
import './playground.css';

const config = JSON.parse(document.getElementById('callme-config').textContent || '{}');
const url = new URL(config.endpoint || '/query', window.location.href);
const wsUrl = new URL(url.href);
wsUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';

const fetcher = createGraphiQLFetcher({ url: url.href, subscriptionUrl: wsUrl.href });

const defaultQuery = `# callme GraphQL playground (served by the callme binary; works offline).
#
# Dev login (on unless -production): run
#   mutation { login(input: {app: SELLER, code: "dev:admin"}) { token } }
# then put {"Authorization": "Bearer <token>"} in the Headers tab below.
# A stall's call board is at /board/<seller id>.

query Sellers {
  sellers(first: 10) {
    totalCount
    edges { node { id name prefix open waitingCount lastCalled { code } } }
  }
}
`;

createRoot(document.getElementById('graphiql')).render(
  <GraphiQL fetcher={fetcher} defaultQuery={defaultQuery} />,
);
