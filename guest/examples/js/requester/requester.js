// requester: asks another component and keeps its reply.
//
// Config: target = "ns/name/instance", timeout_ms (default 2000). A message "last" replies with
// the outcome of the latest finished request ("reply: <payload>" or "error: <kind>: <text>", or
// "none"); any other payload is sent to the target as a request, and the message is answered
// "asked #<correlation id>". capsule's requests are asynchronous: the target's reply arrives
// later in handleCallback, never as the return value of `request`. The JavaScript twin of
// guest/examples/python/requester.
//
// State lives in module variables: the instance (and its JS heap) lives until a restart.
// Correlation ids are u64, so they are BigInts in JavaScript.
import { request } from 'capsule:core/messaging@0.1.3';
import { log } from 'capsule:core/services@0.1.3';

const TEXT = 0x0f; // multicodec utf-8 text

let target = null;
let timeoutMs = 2000;
let last = 'none';

function parseId(text) {
  const parts = text.split('/');
  if (parts.length !== 3 || parts.some((p) => p === '')) {
    throw { tag: 'invalid-argument', val: `target must be ns/name/instance, not '${text}'` };
  }
  return { namespace: parts[0], name: parts[1], instance: parts[2] };
}

function text(s) {
  return { codec: TEXT, bytes: new TextEncoder().encode(s) };
}

export const lifecycle = {
  init(config) {
    const settings = new Map(config);
    target = parseId(settings.get('target') ?? '');
    timeoutMs = Number(settings.get('timeout_ms') ?? '2000');
  },

  handleMessage(msg) {
    const body = new TextDecoder().decode(msg.payload.bytes);
    if (body === 'last') return text(last);
    const correlation = request(target, msg.payload, timeoutMs);
    return text(`asked #${correlation}`);
  },

  handleCallback(response) {
    const outcome = response.outcome;
    if (outcome.tag === 'ok') {
      last = 'reply: ' + new TextDecoder().decode(outcome.val.bytes);
    } else {
      last = `error: ${outcome.val.tag}: ${outcome.val.val}`;
    }
    log('info', 'request finished', [['correlation', String(response.correlation)], ['outcome', last]]);
  },

  health() {
    return 'healthy';
  },

  shutdown() {},

  metadata() {
    return { name: 'js-requester', version: '0.1.0', description: 'Asks another component and keeps its reply', labels: [] };
  },
};
