// echo: replies to every request with the payload it received (codec and bytes unchanged).
//
// The JavaScript twin of guest/examples/echo.c, built by capsule_add_js_component. The
// `lifecycle` export object implements the capsule:core/lifecycle interface; componentize-js
// maps its camelCase methods to the WIT names.
export const lifecycle = {
  init(config) {},

  // option<payload>: return the payload for some(...), undefined for none.
  handleMessage(msg) {
    return msg.payload;
  },

  handleCallback(response) {},

  health() {
    return 'healthy';
  },

  shutdown() {},

  metadata() {
    return { name: 'js-echo', version: '0.1.0', description: 'Replies with the payload it receives', labels: [] };
  },
};
