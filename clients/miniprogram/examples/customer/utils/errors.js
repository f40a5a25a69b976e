// What the customer sees for the server's error codes (err.code is the first
// error's extensions.code; see the contract).
var texts = {
  SELLER_CLOSED: '档口已打烊',
  SELLER_INACTIVE: '档口暂停营业',
  NUMBERS_EXHAUSTED: '今天的号已取完',
  TICKET_TAKEN: '这个号已被别人领取',
  NOT_FOUND: '没有这个号，或领取码不对',
  FORBIDDEN: '这不是你的号',
  BAD_USER_INPUT: '输入有误，请检查',
  RATE_LIMITED: '操作太频繁，请稍后再试',
  NETWORK_ERROR: '网络不好，请稍后再试'
};

module.exports = function errorText(err) {
  return texts[err && err.code] || (err && err.message) || '出错了';
};
