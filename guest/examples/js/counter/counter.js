// counter: a per-component counter kept in capsule's storage, so it survives restarts.
//
// Requests: "incr" adds one and replies with the new value, "get" replies with the value,
// "reset" deletes it. The JavaScript twin of guest/examples/python/counter.
//
// Imported functions that return result<T, error> return T, or throw an Error whose `payload`
// is the capsule error ({ tag: 'permission-denied', val: '...' }). An export reports a typed
// error by throwing such a variant object (not an Error: an uncaught Error is a trap).
import { get, set, delete as remove } from 'capsule:core/storage@0.1.3';
import { log } from 'capsule:core/services@0.1.3';

const KEY = 'count';
const TEXT = 0x0f; // multicodec utf-8 text

function current() {
  const value = get(KEY); // Uint8Array, or undefined when the key is absent
  return value === undefined ? 0 : Number(new TextDecoder().decode(value));
}

function reply(text) {
  return { codec: TEXT, bytes: new TextEncoder().encode(text) };
}

export const lifecycle = {
  init(config) {
    log('info', 'counter ready', [['value', String(current())]]);
  },

  handleMessage(msg) {
    const command = new TextDecoder().decode(msg.payload.bytes);
    switch (command) {
      case 'incr': {
        const value = current() + 1;
        set(KEY, new TextEncoder().encode(String(value)));
        return reply(String(value));
      }
      case 'get':
        return reply(String(current()));
      case 'reset':
        remove(KEY);
        return reply('0');
      default:
        // A typed error for the caller; the instance keeps running.
        throw { tag: 'invalid-argument', val: `unknown command '${command}' (use incr, get or reset)` };
    }
  },

  handleCallback(response) {},

  health() {
    return 'healthy';
  },

  shutdown() {},

  metadata() {
    return { name: 'js-counter', version: '0.1.0', description: 'A counter kept in storage', labels: [] };
  },
};
