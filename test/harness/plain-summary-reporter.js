// Prints jest's totals as one plain line ("N passed, N failed, N skipped"), the form CI
// systems read when they do not know jest's own summary, and keeps it in
// .cache/test-summary.txt so .ci/run can repeat it as the very last line of its output.
const fs = require('node:fs');
const path = require('node:path');

class PlainSummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const line =
      `${results.numPassedTests} passed, ${results.numFailedTests} failed` +
      (skipped ? `, ${skipped} skipped` : '');
    process.stderr.write(`\n${line}\n`);
    const dir = path.join(__dirname, '..', '..', '.cache');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'test-summary.txt'), `${line}\n`);
  }
}
module.exports = PlainSummaryReporter;
