import { createHash } from 'node:crypto';
import { MAX_NOTIFY_PAYLOAD, type Notifications } from '../database/notifications';
import type { PluginNotify, SqlRunner } from './plugin-services.types';

/** Messages sent with a transaction reach every process, the sender included. */
const EVERYONE = '*';
const TOPIC = /^[a-z][a-z0-9_]{0,30}$/;

/**
 * The LISTEN channel of a plugin's topic: `rp_` and a hash of `<plugin>/<topic>`, so every
 * plugin's every topic has its own channel within PostgreSQL's 63-character limit.
 */
function channelOf(plugin: string, topic: string): string {
  if (!TOPIC.test(topic)) throw new RangeError(`a topic is lower-case letters, digits and _ (at most 31), starting with a letter: "${topic}"`);
  return `rp_${createHash('sha256').update(`${plugin}/${topic}`).digest('hex').slice(0, 32)}`;
}

/**
 * A plugin's `ctx.notify`, on core's LISTEN/NOTIFY connection. `sender` names this core (one per
 * process in production; tests run several in one process): a core skips its own messages.
 */
export function pluginNotify(plugin: string, notifications: () => Notifications, sender: string): PluginNotify {
  const maxPayload = MAX_NOTIFY_PAYLOAD - sender.length - 1;
  const check = (payload: string) => {
    const bytes = Buffer.byteLength(payload);
    if (bytes > maxPayload) throw new RangeError(`a message is at most ${maxPayload} bytes, got ${bytes}: split it`);
  };
  return {
    maxPayload,
    get listening() {
      return notifications().listening;
    },
    async publish(topic, payload, tx?: SqlRunner) {
      const channel = channelOf(plugin, topic);
      check(payload);
      if (tx) await tx.query('SELECT pg_notify($1, $2)', [channel, `${EVERYONE}:${payload}`]);
      else await notifications().notify(channel, `${sender}:${payload}`);
    },
    async subscribe(topic, onMessage, onReset) {
      const channel = channelOf(plugin, topic);
      return notifications().listen(
        channel,
        (raw) => {
          const sep = raw.indexOf(':');
          if (sep < 0 || raw.slice(0, sep) === sender) return; // not ours, or our own echo
          onMessage(raw.slice(sep + 1));
        },
        onReset,
      );
    },
  };
}
