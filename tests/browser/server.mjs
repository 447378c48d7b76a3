// Starts dt-eventstore for the node tests: a temporary data folder, port 0 (the server
// prints the port it bound in its "ready:" line), SIGTERM and cleanup when done.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function startEventStore(extraArgs = []) {
  const bin = process.env.DT_EVENTSTORE_BIN;
  if (!bin) throw new Error('DT_EVENTSTORE_BIN must name the dt-eventstore executable');
  const dataDir = mkdtempSync(join(tmpdir(), 'dt-node-es-'));
  const proc = spawn(bin, ['--db', dataDir, '--http-port', '0', '--segment-size', '8388608', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('dt-eventstore did not start: ' + out)), 20000);
    const onData = (d) => {
      out += d;
      const m = out.match(/ready: (http:\/\/[0-9.]+:\d+)\//);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => reject(new Error('dt-eventstore exited ' + code + ': ' + out)));
  });
  return {
    base,
    port: Number(new URL(base).port),
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
