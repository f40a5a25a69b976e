// What the seller sees for the server's error codes (err.code is the first
// error's extensions.code; see the contract).
var texts = {
  FORBIDDEN: '没有权限',
  NOT_FOUND: '邀请码无效或已使用',
  SELLER_INACTIVE: '档口未续费，不能开门',
  SELLER_CLOSED: '档口已打烊，先开门再取号',
  NUMBERS_EXHAUSTED: '今天的号已发完',
  INVALID_TRANSITION: '这个号的状态已变化',
  BAD_USER_INPUT: '输入有误，请检查',
  RATE_LIMITED: '操作太频繁，请稍后再试',
  NETWORK_ERROR: '网络不好，请稍后再试'
};

module.exports = function errorText(err, overrides) {
  var code = err && err.code;
  return (overrides && overrides[code]) || texts[code] || (err && err.message) || '出错了';
};
