// My tickets of today, the active ones live: each WAITING or CALLED ticket is
// watched (all on the kit's one socket), so its status and place change on
// screen as the stall works. Tap one to open its page.
var ops = require('../../callme/index.js').operations;
var errorText = require('../../utils/errors.js');

function client() {
  return getApp().callme;
}

var statusText = {
  WAITING: '等待中',
  CALLED: '到你了',
  DONE: '已取餐',
  CANCELLED: '已取消',
  NO_SHOW: '已过号'
};

function active(t) {
  return t.status === 'WAITING' || t.status === 'CALLED';
}

Component({
  data: {
    tickets: [], // TicketFields plus statusText, newest first
    loaded: false,
    error: ''
  },

  methods: {
    onLoad: function () {
      this.watches = {}; // ticket id -> unsubscribe
    },

    // A tab page stays loaded: refresh whenever it is shown.
    onShow: function () {
      this.load();
    },

    onHide: function () {
      this.unwatchAll();
    },

    onUnload: function () {
      this.unwatchAll();
    },

    onPullDownRefresh: function () {
      this.load().then(function () {
        wx.stopPullDownRefresh();
      });
    },

    load: function () {
      var self = this;
      return client()
        .request(ops.MyTickets)
        .then(function (data) {
          var list = data.myTickets.slice().reverse();
          self.setData({ loaded: true, error: '', tickets: list.map(decorate) });
          list.filter(active).forEach(function (t) {
            self.watch(t.id);
          });
        })
        .catch(this.showError.bind(this));
    },

    watch: function (id) {
      var self = this;
      if (this.watches[id]) return;
      this.watches[id] = client().subscribe(
        ops.WatchTicket,
        { ticketId: id },
        function (data) {
          var t = data.ticketUpdated;
          var i = indexOf(self.data.tickets, t.id);
          if (i >= 0) {
            var patch = {};
            patch['tickets[' + i + ']'] = decorate(t);
            self.setData(patch);
          }
          if (!active(t)) self.unwatch(t.id);
        },
        function (err) {
          self.unwatch(id);
          self.showError(err);
        }
      );
    },

    unwatch: function (id) {
      if (this.watches[id]) this.watches[id]();
      delete this.watches[id];
    },

    unwatchAll: function () {
      for (var id in this.watches) this.unwatch(id);
    },

    open: function (e) {
      wx.navigateTo({ url: '/pages/ticket/index?id=' + encodeURIComponent(e.currentTarget.dataset.id) });
    },

    showError: function (err) {
      this.setData({ error: errorText(err) });
    }
  }
});

function decorate(t) {
  var d = {};
  for (var k in t) d[k] = t[k];
  d.statusText = statusText[t.status] || t.status;
  return d;
}

function indexOf(list, id) {
  for (var i = 0; i < list.length; i++) if (list[i].id === id) return i;
  return -1;
}
