/**
 * The simulator's merchant shapes (scripts/simulator/shapes.ts): payments through a further appid
 * bound to the merchant, combine payments direct and provider with the signed combine-order query,
 * any other APIv3 event, their control endpoints and CLI commands; every refusal changes nothing.
 */
import { createDecipheriv, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../scripts/simulator/cli';
import { generateTestKeys, type TestKeys } from '../../scripts/simulator/keys';
import { startSimulator, type Simulator } from '../../scripts/simulator/server';
import { secondAppid } from '../../scripts/simulator/shapes';
import { merchantAuthorization } from '../../scripts/simulator/v3auth';
import { startReceiver, xmlFields, type Receiver } from './support';

let keys: TestKeys;
let sim: Simulator;
let receiver: Receiver;

beforeAll(async () => {
  keys = generateTestKeys();
  receiver = await startReceiver((_i, req) =>
    req.body.startsWith('<')
      ? { status: 200, body: '<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>' }
      : { status: 204 },
  );
  sim = await startSimulator({ keys, notifyUrl: receiver.url, timeScale: 0.001 });
});
afterAll(async () => {
  await sim.close();
  await receiver.close();
});

/** The decrypted resource and envelope of an APIv3 notification body. */
function open(body: string): { envelope: Record<string, unknown>; resource: Record<string, unknown> } {
  const envelope = JSON.parse(body) as Record<string, unknown>;
  const r = envelope.resource as Record<string, string>;
  const data = Buffer.from(r.ciphertext ?? '', 'base64');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(keys.apiV3Key, 'utf8'), Buffer.from(r.nonce ?? ''));
  decipher.setAAD(Buffer.from(r.associated_data ?? '', 'utf8'));
  decipher.setAuthTag(data.subarray(data.length - 16));
  const plain = Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]);
  return { envelope, resource: JSON.parse(plain.toString('utf8')) as Record<string, unknown> };
}

const last = () => receiver.received.at(-1)?.body ?? '';

async function combineQuery(no: string, signed = true) {
  const url = `/v3/combine-transactions/out-trade-no/${encodeURIComponent(no)}`;
  const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'shapes-test' };
  if (signed) headers.Authorization = merchantAuthorization(keys, { method: 'GET', url, body: '' });
  const res = await fetch(`${sim.url}${url}`, { headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function control(path: string, body: unknown) {
  const res = await fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('a further appid', () => {
  it('is derived from the keys, listed by health, and paid through in v2 and v3', async () => {
    const second = secondAppid(keys);
    expect(second).toMatch(/^wx[0-9a-f]{16}$/);
    expect(second).not.toBe(keys.appid);
    expect(sim.shapes.appids).toEqual([keys.appid, second]);
    expect(await (await fetch(`${sim.url}/_sim/health`)).json()).toMatchObject({ appids: [second] });
    await sim.control.pay({ outTradeNo: 'APP2V2', amount: 100, appid: second, protocol: 'v2', wait: 'first' });
    expect(xmlFields(last()).appid).toBe(second);
    await sim.control.pay({ outTradeNo: 'APP2V3', amount: 100, appid: second, protocol: 'v3', wait: 'first' });
    expect(open(last()).resource).toMatchObject({ appid: second, out_trade_no: 'APP2V3' });
  });

  it('an appid not bound to the merchant is refused and no order is made', async () => {
    const r = await control('/_sim/pay', { outTradeNo: 'APPX', amount: 100, appid: 'wx00000000000000ff' });
    expect(r).toMatchObject({ status: 400, json: { error: 'INVALID' } });
    expect(sim.state.findOrder(keys.mchid, 'APPX')).toBeUndefined();
  });
});

describe('combine payments', () => {
  it('direct: every sub-order paid, one TRANSACTION.SUCCESS naming them all, the query answers the same', async () => {
    const { combine, delivery } = await sim.shapes.payCombine({
      combineOutTradeNo: 'CMB1',
      subOrders: [
        { outTradeNo: 'CMB1A', amount: 100 },
        { outTradeNo: 'CMB1B', amount: 250 },
        { outTradeNo: 'CMB1C', amount: 399 },
      ],
    });
    expect(delivery.accepted).toBe(true);
    const { envelope, resource } = open(last());
    expect(envelope.event_type).toBe('TRANSACTION.SUCCESS');
    expect(resource).toEqual(combine);
    expect(resource).toMatchObject({
      combine_mchid: keys.mchid,
      combine_appid: keys.appid,
      combine_out_trade_no: 'CMB1',
    });
    const subs = resource.sub_orders as Array<Record<string, unknown>>;
    expect(
      subs.map((s) => [s.out_trade_no, s.mchid, s.trade_state, (s.amount as Record<string, number>).total_amount]),
    ).toEqual([
      ['CMB1A', keys.mchid, 'SUCCESS', 100],
      ['CMB1B', keys.mchid, 'SUCCESS', 250],
      ['CMB1C', keys.mchid, 'SUCCESS', 399],
    ]);
    for (const s of subs)
      expect(sim.state.findOrder(keys.mchid, s.out_trade_no as string)?.transactionId).toBe(s.transaction_id);
    const q = await combineQuery('CMB1');
    expect(q.status).toBe(200);
    expect(JSON.parse(q.text)).toEqual(combine);
    // signed like every APIv3 answer: timestamp\nnonce\nbody\n under the platform key
    const message = `${q.headers.get('wechatpay-timestamp')}\n${q.headers.get('wechatpay-nonce')}\n${q.text}\n`;
    const signature = Buffer.from(q.headers.get('wechatpay-signature') ?? '', 'base64');
    expect(verify('sha256', Buffer.from(message), keys.platform.publicKey, signature)).toBe(true);
  });

  it('provider: each sub-order under its sub-merchant, the provider as initiator', async () => {
    await sim.shapes.payCombine({
      combineOutTradeNo: 'CMB2',
      subOrders: [
        { outTradeNo: 'CMB2A', amount: 700, subMchid: '1900000201' },
        { outTradeNo: 'CMB2B', amount: 800, subMchid: '1900000202' },
      ],
    });
    const subs = open(last()).resource.sub_orders as Array<Record<string, unknown>>;
    expect(subs.map((s) => [s.mchid, s.sub_mchid])).toEqual([
      [keys.mchid, '1900000201'],
      [keys.mchid, '1900000202'],
    ]);
    expect(sim.state.findOrder('1900000202', 'CMB2B')?.state).toBe('SUCCESS');
  });

  it('in process, a bad sub-order anywhere in the list: refused before any order is made', async () => {
    const made = sim.state.listOrders().length;
    await expect(
      sim.shapes.payCombine({
        combineOutTradeNo: 'CMBP',
        subOrders: [
          { outTradeNo: 'CMBP1', amount: 100 },
          { outTradeNo: 'bad no!', amount: 100 },
        ],
      }),
    ).rejects.toThrow('subOrders[1].outTradeNo');
    await expect(
      sim.shapes.payCombine({ combineOutTradeNo: 'CMBQ', subOrders: [{ outTradeNo: 'CMBQ1', amount: 0 }] }),
    ).rejects.toThrow('positive integer');
    expect(sim.state.listOrders()).toHaveLength(made);
  });

  it('the query: 401 unsigned, 404 for an unknown combine order, 400 for a bad number', async () => {
    expect((await combineQuery('CMB1', false)).status).toBe(401);
    expect(JSON.parse((await combineQuery('NOSUCH')).text)).toMatchObject({ code: 'ORDER_NOT_EXIST' });
    expect((await combineQuery('bad no!')).status).toBe(400);
  });

  it.each([
    ['the same combine number again', { combineOutTradeNo: 'CMB1', subOrders: [{ outTradeNo: 'N1', amount: 1 }] }, 409],
    ['no sub-orders', { combineOutTradeNo: 'CMBE', subOrders: [] }, 400],
    [
      'a sub-order named twice',
      {
        combineOutTradeNo: 'CMBD',
        subOrders: [
          { outTradeNo: 'N2', amount: 1 },
          { outTradeNo: 'N2', amount: 1 },
        ],
      },
      400,
    ],
    ['a fraction of a fen', { combineOutTradeNo: 'CMBF', subOrders: [{ outTradeNo: 'N3', amount: 1.5 }] }, 400],
    [
      'an existing order with another amount',
      {
        combineOutTradeNo: 'CMBM',
        subOrders: [
          { outTradeNo: 'N4', amount: 1 },
          { outTradeNo: 'CMB1A', amount: 101 },
        ],
      },
      409,
    ],
    [
      'an unbound appid',
      { combineOutTradeNo: 'CMBA', appid: 'wx00000000000000ff', subOrders: [{ outTradeNo: 'N5', amount: 1 }] },
      400,
    ],
  ])('%s: refused, nothing paid', async (_name, body, status) => {
    const before = sim.state.listOrders().length;
    const sent = receiver.received.length;
    expect((await control('/_sim/combine/pay', body)).status).toBe(status);
    expect(sim.state.listOrders()).toHaveLength(before);
    expect(receiver.received).toHaveLength(sent);
  });
});

describe('other events', () => {
  it('a complaint by default, any KIND.EVENT type on request, signed and encrypted', async () => {
    const { id } = await sim.shapes.sendEvent({});
    const complaint = open(last());
    expect(complaint.envelope).toMatchObject({ id, event_type: 'COMPLAINT.CREATE', summary: '投诉通知' });
    expect(complaint.resource).toMatchObject({ action_type: 'CREATE_COMPLAINT', complainted_mchid: keys.mchid });
    await sim.shapes.sendEvent({ eventType: 'SOMETHING.NEW_NEXT_YEAR', resource: { x: 1 } });
    expect(open(last())).toMatchObject({ envelope: { event_type: 'SOMETHING.NEW_NEXT_YEAR' }, resource: { x: 1 } });
  });

  it.each([['lowercase.type'], ['NODOT'], [`A.${'B'.repeat(40)}`]])('event type %s is refused', async (eventType) => {
    const sent = receiver.received.length;
    expect((await control('/_sim/events/send', { eventType })).status).toBe(400);
    expect(receiver.received).toHaveLength(sent);
  });
});

describe('CLI', () => {
  const io = (out: string[]) => ({
    env: { WECHATPAY_SIM_URL: sim.url },
    out: (t: string) => out.push(t),
    err: (t: string) => out.push(t),
  });

  it('combine, complaint, event and pay --appid', async () => {
    const out: string[] = [];
    expect(await runCli(['combine', 'CLI1', 'CLI1A:100', 'CLI1B:200:1900000201'], io(out))).toBe(0);
    expect(sim.state.findOrder('1900000201', 'CLI1B')?.state).toBe('SUCCESS');
    expect(await runCli(['complaint', '--event-type', 'COMPLAINT.STATE_CHANGE'], io(out))).toBe(0);
    expect(open(last()).envelope.event_type).toBe('COMPLAINT.STATE_CHANGE');
    expect(await runCli(['event', 'MARKETING.NEWS'], io(out))).toBe(0);
    expect(open(last()).envelope.event_type).toBe('MARKETING.NEWS');
    expect(await runCli(['pay', 'CLI2', '300', '--appid', secondAppid(keys)], io(out))).toBe(0);
    expect(sim.state.findOrder(keys.mchid, 'CLI2')?.appid).toBe(secondAppid(keys));
  });

  it('refuses malformed sub-orders before calling the simulator', async () => {
    const out: string[] = [];
    expect(await runCli(['combine', 'CLI3'], io(out))).toBe(2);
    expect(await runCli(['combine', 'CLI3', 'A:1.5'], io(out))).toBe(2);
    expect(await runCli(['combine', 'CLI3', 'A:1:2:3'], io(out))).toBe(2);
    expect(await runCli(['event'], io(out))).toBe(2);
    expect(sim.state.findOrder(keys.mchid, 'A')).toBeUndefined();
  });
});
