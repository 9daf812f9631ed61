// noisy: writes to stdout and stderr, throws and allocates on command, for the guest-output and
// memory-limit tests (tests/e2e/js_guests_test.py).
//
// Requests: "throw <text>" throws an uncaught Error(<text>) (the call traps, the engine prints
// the error and its stack to stderr); "print <n>" logs n numbered lines with console.log
// (stdout); "stderr <text>" writes one line with console.error; "hog" keeps allocating until the
// memory limit stops it.
const TEXT = 0x0f;

function fail(text) {
  throw new Error(text);
}

const kept = [];

function hog() {
  // 1 MiB buffers, each touched so it is really allocated, none ever freed.
  for (;;) kept.push(new Uint8Array(1 << 20).fill(0xab));
}

export const lifecycle = {
  init(config) {},

  handleMessage(msg) {
    const body = new TextDecoder().decode(msg.payload.bytes);
    const space = body.indexOf(' ');
    const command = space < 0 ? body : body.slice(0, space);
    const arg = space < 0 ? '' : body.slice(space + 1);
    switch (command) {
      case 'throw':
        fail(arg);
        break;
      case 'print':
        for (let i = 0; i < Number(arg); i++) console.log(`noisy line ${i}`);
        break;
      case 'stderr':
        console.error(arg);
        break;
      case 'hog':
        hog();
        break;
    }
    return { codec: TEXT, bytes: new TextEncoder().encode('done') };
  },

  handleCallback(response) {},

  health() {
    return 'healthy';
  },

  shutdown() {},

  metadata() {
    return { name: 'js-noisy', version: '0.1.0', description: 'Prints, throws and allocates on command', labels: [] };
  },
};
