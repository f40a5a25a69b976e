// Package wechat is callme's only door to the WeChat mini-program server APIs.
//
// Why a package of its own: WeChat is reached from a handful of places (login,
// subscribe messages, mini-program codes) and every one of them
// must get the same things right, which are easy to get wrong when each caller
// talks HTTP itself:
//
//   - Secrets stay secret. jscode2session carries the app secret and the
//     single-use js_code in its query string, and Go's *url.Error prints the
//     full URL. This package never logs a URL, never puts a secret, a code, a
//     session_key or a response body into an error or a log record, and
//     rebuilds transport errors without the *url.Error wrapper.
//   - Failures are classified once. WeChat answers HTTP 200 with an errcode;
//     callers need to tell "the user's code is bad" (IsInvalidCode),
//     "slow down" (IsRateLimited) and "WeChat blocked this user" (IsBlocked)
//     from "WeChat is not answering" (ErrUnavailable), without knowing the
//     numbers.
//   - Retries happen in one place, and only where they are safe: errcode -1
//     (system busy), timeouts, network errors, HTTP 5xx and unparsable bodies.
//     Answers about the request itself (invalid code, rate limit, blocked
//     user, ...) are final, since retrying them only burns quota.
//   - The access token is fetched centrally and cached per app, because
//     WeChat rate-limits token fetches and concurrent refreshes would race.
//     A call rejected with 40001/42001 drops the token, fetches a fresh one
//     and retries once. The token travels in the query string, so the same
//     rule as for the secret applies.
//   - Senders know when to give up: IsPermanent (grant gone, bad template
//     data, openid, template id or page, local ErrBadRequest) versus
//     ErrUnavailable (try again later).
//
// The base URL is configurable because callme's machines cannot reach WeChat;
// tests run against the fake server in package wechattest.
package wechat
