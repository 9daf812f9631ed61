// counter for jco's QuickJS backend (componentize-qjs): guest/examples/js/counter/counter.js
// without TextEncoder/TextDecoder, which QuickJS does not have (the unchanged source fails in
// init with "TextDecoder is not defined", shown in the host log with its JS stack). The count
// and the commands are ASCII, so bytes map to characters one to one.
//
// Requests: "incr" adds one and replies with the new value, "get" replies with the value.
import { get, set } from 'capsule:core/storage@0.1.3';

const KEY = 'count';
const TEXT = 0x0f; // multicodec utf-8 text

const bytesOf = (text) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const textOf = (bytes) => String.fromCharCode(...bytes);

function current() {
  const value = get(KEY); // Uint8Array; null when the key is absent (componentize-js: undefined)
  return value == null ? 0 : Number(textOf(value));
}

const reply = (text) => ({ codec: TEXT, bytes: bytesOf(text) });

export const lifecycle = {
  init(config) {},

  handleMessage(msg) {
    const command = textOf(msg.payload.bytes);
    switch (command) {
      case 'incr': {
        const value = current() + 1;
        set(KEY, bytesOf(String(value)));
        return reply(String(value));
      }
      case 'get':
        return reply(String(current()));
      default:
        throw { tag: 'invalid-argument', val: `unknown command '${command}' (use incr or get)` };
    }
  },

  handleCallback(response) {},

  health() {
    return 'healthy';
  },

  shutdown() {},

  metadata() {
    return { name: 'qjs-counter', version: '0.1.0', description: 'Counts in storage', labels: [] };
  },
};
