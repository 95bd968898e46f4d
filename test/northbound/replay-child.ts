/**
 * A process that runs only the Sparkplug edge node over an existing store-and-forward file, so a test can kill -9 it
 * in the middle of a replay. Settings come from the environment; it prints `born` once its session is born and
 * `drained` when the queue is empty.
 */
import fs from 'node:fs';
import { plantMap } from '../../runtime/model/plant-map';
import { SparkplugEdgeNode } from '../../runtime/northbound/sparkplug/edge-node';
import { plantDevices } from '../../runtime/northbound/sparkplug/plant-devices';
import { DurableQueue } from '../../runtime/northbound/store-forward';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const queue = new DurableQueue(env('SF_QUEUE'));
const node = new SparkplugEdgeNode({
  brokerUrl: env('SF_BROKER'), groupId: env('SF_GROUP'), edgeNodeId: env('SF_NODE'), devices: plantDevices(plantMap()), queue,
  credentials: () => ({ ca: fs.readFileSync(env('SF_CA'), 'utf8'), cert: fs.readFileSync(env('SF_CERT'), 'utf8'), key: fs.readFileSync(env('SF_KEY'), 'utf8') }),
  replay: { window: 32, perSecond: Number(env('SF_RATE')) },
  onStateChange: (born) => { if (born) process.stdout.write('born\n'); },
});
node.start();
const timer = setInterval(() => {
  if (node.stats().born && queue.depth === 0) {
    process.stdout.write('drained\n');
    clearInterval(timer);
  }
}, 50);
