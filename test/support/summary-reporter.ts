// Ends a run with one plain line, `vitest: N passed, N failed, N skipped`, that CI can read.
//
// A failure outside a test counts as a failure: a file that does not load, a beforeAll/afterAll that throws
// (vitest then reports the file's tests as skipped, and a run of only skips would otherwise read as green),
// an unhandled error. Each failed file or describe block whose own tests did not fail counts once.
//
// Before it, when tests were skipped for want of a system tool (test/support/system-tools.ts), which tools and the
// one `apt-get install` line that brings them.
import type { Reporter, TestModule, TestSuite } from 'vitest/node';
import { aptGetLine, TOOLS, type Tool } from './system-tools.js';

export interface Summary {
  passed: number;
  failed: number;
  skipped: number;
}

export function summarize(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): Summary {
  const count: Summary = { passed: 0, failed: 0, skipped: 0 };
  for (const module of modules) {
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state === 'passed') count.passed++;
      else if (state === 'failed') count.failed++;
      else count.skipped++;
    }
    for (const block of [module, ...module.children.allSuites()]) {
      if (failedOutsideTests(block)) count.failed++;
    }
  }
  count.failed += unhandledErrors.length;
  return count;
}

/** The block has errors of its own (load, hooks) and none of its tests failed to account for them. */
function failedOutsideTests(block: TestModule | TestSuite): boolean {
  if (block.errors().length === 0) return false; // failed, if at all, because a test inside failed: counted there
  for (const test of block.children.allTests()) if (test.result().state === 'failed') return false;
  return true;
}

/** The tools whose absence skipped tests (needs()), each with how many tests it skipped. */
export function missingTools(modules: ReadonlyArray<TestModule>): Map<Tool, number> {
  const skippedBy = new Map<Tool, number>();
  for (const module of modules) {
    for (const test of module.children.allTests()) {
      if (test.result().state !== 'skipped') continue;
      // the test's own, or that of the describe block (or file) that needs() skipped
      const meta = [test, ...ancestors(test.parent)].map((task) => task.meta().missingTools).find((m) => m !== undefined) ?? [];
      for (const { tool } of meta) skippedBy.set(tool, (skippedBy.get(tool) ?? 0) + 1);
    }
  }
  return skippedBy;
}

function* ancestors(block: TestModule | TestSuite): Generator<TestModule | TestSuite> {
  for (let b: TestModule | TestSuite | undefined = block; b; b = b.type === 'suite' ? b.parent : undefined) yield b;
}

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    const { passed, failed, skipped } = summarize(modules, unhandledErrors);
    const missing = missingTools(modules);
    if (missing.size > 0) {
      const each = (Object.keys(TOOLS) as Tool[])
        .filter((tool) => missing.has(tool))
        .map((tool) => `${tool} (${missing.get(tool)} skipped)`)
        .join(', ');
      process.stdout.write(`\nsystem tools missing: ${each}; install them: ${aptGetLine([...missing.keys()])}\n`);
    }
    process.stdout.write(`\nvitest: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
