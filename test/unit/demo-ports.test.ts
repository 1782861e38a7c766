// The demo checks its console and shop addresses before it starts anything, and names the
// variable that moves a taken one (DEMO_HTTP, DEMO_SHOP_PORT), not berth's --http flag.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { takenAddresses } from '../../src/demo/ports.js';

test('a taken console address is named with the variable that moves it; a free one is not', async (t) => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const taken = (holder.address() as AddressInfo).port;
  // A port that was free a moment ago: bind and release one.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const free = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  const lines = await takenAddresses([
    { what: 'the console', host: '127.0.0.1', port: taken, knob: 'DEMO_HTTP', example: '127.0.0.1:8421' },
    { what: 'the shop', host: '127.0.0.1', port: free, knob: 'DEMO_SHOP_PORT', example: '8089' },
  ]);
  assert.deepEqual(lines, [`127.0.0.1:${taken} (the console) is taken by another program; choose another port: DEMO_HTTP=127.0.0.1:8421 npm run demo`]);
});
