'use strict';
// data: A, B and C join. After a handshake (so every data channel is open), A sends reliable
// and lossy packets to everyone, to B only and to C only, and B sends one reliable packet to A.
// Then everything each page received is returned; the Go test checks who got what.
//
// data: sent (what was sent, by whom, to whom), received: {A: [...], B: [...], C: [...]},
// handshakeMs, allArrived.
const LOSSY_COUNT = 5;

module.exports = async function dataScenario(r, data, say) {
  const c = r.cfg;
  const names = ['A', 'B', 'C'];
  for (const n of names) await r.open(n);
  for (const n of names) data[`connect${n}`] = await r.connect(n);

  const everyoneSees = await r.poll('participants see each other', async () => {
    const seen = {};
    for (const n of names) seen[n] = (await r.call(n, 'participants')).map((p) => p.identity).sort();
    return seen;
  }, (seen) => names.every((n) => seen[n].length === names.length - 1), c.waitMs || 10000);
  data.seen = everyoneSees.value;

  // Handshake: reliable broadcasts until A's reach B and C and B's reach A. Each try is a
  // separate message, so late-opening channels cannot make the test pass by accident.
  const hello = (list, from) => list.some((m) => m.topic === 'hello' && m.from === from);
  const t0 = Date.now();
  let i = 0;
  const shake = await r.poll('data handshake', async () => {
    i++;
    await r.call('A', 'sendData', { text: `hello-A-${i}`, reliable: true, topic: 'hello' });
    await r.call('B', 'sendData', { text: `hello-B-${i}`, reliable: true, topic: 'hello' });
    await new Promise((res) => setTimeout(res, 300));
    return { A: await r.call('A', 'received'), B: await r.call('B', 'received'), C: await r.call('C', 'received') };
  }, (got) => hello(got.B, 'A') && hello(got.C, 'A') && hello(got.A, 'B'), c.waitMs || 10000, 200);
  data.handshakeMs = shake.done ? Date.now() - t0 : -1;
  if (!shake.done) {
    data.received = shake.value;
    return;
  }

  const sent = [];
  const send = async (from, msg) => {
    sent.push(Object.assign({ from }, msg));
    await r.call(from, 'sendData', msg);
  };
  await send('A', { text: 'all-reliable', reliable: true, topic: 'all-reliable' });
  for (let k = 0; k < LOSSY_COUNT; k++) await send('A', { text: `all-lossy-${k}`, reliable: false, topic: 'all-lossy' });
  await send('A', { text: 'b-reliable', reliable: true, topic: 'b-reliable', destinationIdentities: ['B'] });
  for (let k = 0; k < LOSSY_COUNT; k++) {
    await send('A', { text: `b-lossy-${k}`, reliable: false, topic: 'b-lossy', destinationIdentities: ['B'] });
  }
  await send('A', { text: 'c-reliable', reliable: true, topic: 'c-reliable', destinationIdentities: ['C'] });
  await send('B', { text: 'b-to-a', reliable: true, topic: 'b-to-a', destinationIdentities: ['A'] });
  data.sent = sent;

  // Wait until every packet has reached each intended recipient, then a little longer so that
  // packets wrongly delivered to others have time to show up.
  const expected = { A: [], B: [], C: [] };
  for (const m of sent) {
    const to = m.destinationIdentities && m.destinationIdentities.length ? m.destinationIdentities : names.filter((n) => n !== m.from);
    for (const n of to) expected[n].push(m.text);
  }
  const notHello = (list) => list.filter((m) => m.topic !== 'hello');
  const arrived = await r.poll('data arrives', async () => ({
    A: notHello(await r.call('A', 'received')),
    B: notHello(await r.call('B', 'received')),
    C: notHello(await r.call('C', 'received')),
  }), (got) => names.every((n) => expected[n].every((t) => got[n].some((m) => m.text === t))), c.waitMs || 10000);
  data.allArrived = arrived.done;
  await new Promise((res) => setTimeout(res, 1000));
  data.received = {
    A: notHello(await r.call('A', 'received')),
    B: notHello(await r.call('B', 'received')),
    C: notHello(await r.call('C', 'received')),
  };
  data.expected = expected;
  say(`received ${JSON.stringify(data.received)}`);
};
