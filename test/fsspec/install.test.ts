/**
 * `pip install ./python` works offline with Debian's setuptools (no build isolation, no
 * download), into a virtualenv that sees the system's fsspec, and the installed package
 * registers the "alluxiofs" and "alluxio" protocols (fsspec entry points, before any import).
 * Needs Debian's python3-pip and python3-venv; skipped, saying so, when they are missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PY_DIR, PYTHON } from './env.js';

test('pip install ./python works offline into a venv and registers the protocol', (t) => {
  const hasPip = spawnSync(PYTHON, ['-m', 'pip', '--version']).status === 0;
  const hasVenv = spawnSync(PYTHON, ['-c', 'import venv, ensurepip']).status === 0;
  if (!hasPip || !hasVenv) {
    t.skip('needs python3-pip and python3-venv (apt-get install python3-pip python3-venv)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'alluxiofs-install-'));
  try {
    const src = join(dir, 'src');
    cpSync(PY_DIR, src, { recursive: true, filter: (p) => !p.includes('__pycache__') && !p.endsWith('.egg-info') && !p.endsWith('/build') });
    const venv = join(dir, 'venv');
    const mk = spawnSync(PYTHON, ['-m', 'venv', '--system-site-packages', venv], { encoding: 'utf8' });
    assert.equal(mk.status, 0, mk.stderr);
    const env = { ...process.env, PIP_NO_INDEX: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1', PYTHONPATH: '' };
    const pip = spawnSync(join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '--no-index', src], { encoding: 'utf8', env, cwd: dir, timeout: 120_000 });
    assert.equal(pip.status, 0, `${pip.stdout}\n${pip.stderr}`);
    const check = spawnSync(
      join(venv, 'bin', 'python'),
      ['-c', 'import fsspec, json; cls = fsspec.get_filesystem_class("alluxiofs"); same = fsspec.get_filesystem_class("alluxio") is cls; import alluxiofs; print(json.dumps([cls.__module__, alluxiofs.__file__, alluxiofs.__version__, same]))'],
      { encoding: 'utf8', env, cwd: dir },
    );
    assert.equal(check.status, 0, check.stderr);
    const [mod, file, version, same] = JSON.parse(check.stdout.trim()) as [string, string, string, boolean];
    assert.equal(mod, 'alluxiofs.core');
    assert.ok(file!.startsWith(venv), `imported from the venv, not the source tree: ${file}`);
    assert.equal(version, '0.1.0');
    assert.equal(same, true, 'the "alluxio" entry point names the same class');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
