// `npm run bench -- --compare <git ref>`: the same scenarios on an earlier build, in the same run, so that a change
// is measured before/after as ratios of one run (interleaved with everything else), not across two runs on a machine
// whose speed drifts. The ref is checked out in a temp git worktree (node_modules linked from this checkout) and built
// there; the worktree is removed on exit.
import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { onCleanup, ROOT, tempDir } from './processes.js';

/** Checks out and builds `ref`; answers its dist/main.js. */
export function buildRef(ref: string, log: (text: string) => void): string {
  const tree = join(tempDir('authbridge-compare-'), 'tree');
  const git = (args: string[]) =>
    execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
      .toString()
      .trim();
  const commit = git(['rev-parse', '--verify', `${ref}^{commit}`]);
  log(`--compare ${ref}: building ${commit.slice(0, 10)} in a temp worktree\n`);
  git(['worktree', 'add', '--detach', tree, commit]);
  onCleanup(async () => void git(['worktree', 'remove', '--force', tree]));
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: tree,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return join(tree, 'dist', 'main.js');
}
