// Ends every jest run with one plain line, "N passed, N failed, N skipped", which CI systems that do
// not parse jest's own summary can read.
import process from 'node:process';

export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    process.stdout.write(
      `${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`,
    );
  }
}
