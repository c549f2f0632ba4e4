/**
 * Every version ever written of one etcd key (oldest first), read back from etcd's own
 * history with a watch from the key's create revision: what a race really wrote, not
 * what the code under test says it wrote. A deleted key, or one never written, has [].
 */
import { Etcd3 } from 'etcd3';

export interface KeyVersion {
  modRevision: number;
  value: string;
}

export async function keyHistory(endpoint: string, key: string, timeoutMs = 20_000): Promise<KeyVersion[]> {
  const client = new Etcd3({ hosts: endpoint });
  try {
    const cur = await client.get(key).exec();
    const kv = cur.kvs[0];
    if (!kv) return [];
    const last = Number(kv.mod_revision);
    const out: KeyVersion[] = [];
    const watcher = await client.watch().key(key).startRevision(kv.create_revision).create();
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`history of ${key}: timed out after ${timeoutMs} ms`)), timeoutMs);
        watcher.on('put', (ev) => {
          out.push({ modRevision: Number(ev.mod_revision), value: ev.value.toString('utf8') });
          if (Number(ev.mod_revision) >= last) {
            clearTimeout(t);
            resolve();
          }
        });
        watcher.on('error', (e) => {
          clearTimeout(t);
          reject(e);
        });
      });
    } finally {
      await watcher.cancel();
    }
    return out;
  } finally {
    client.close();
  }
}
