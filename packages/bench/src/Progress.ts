/**
 * The progress line: what runs now, how far along, how long it has taken.
 * On a terminal it rewrites one line on stderr; otherwise it prints a line
 * per case, so logs stay readable.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 * @category models
 */
export class Progress {
  private done = 0
  private readonly total: number
  private readonly started = performance.now()
  private readonly tty = process.stderr.isTTY === true
  private lastCase = ""

  constructor(total: number) {
    this.total = total
  }

  /** Reports that the next step of `caseTitle` starts. */
  step(caseTitle: string, detail: string): void {
    this.done++
    const elapsed = ((performance.now() - this.started) / 1000).toFixed(0)
    const line = `[${this.done}/${this.total}] ${elapsed}s ${caseTitle}: ${detail}`
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 100) - 1)}`)
    } else if (caseTitle !== this.lastCase) {
      process.stderr.write(`${line}\n`)
    }
    this.lastCase = caseTitle
  }

  /** Clears the line. */
  finish(): void {
    if (this.tty) process.stderr.write("\r\x1b[2K")
    const elapsed = ((performance.now() - this.started) / 1000).toFixed(1)
    process.stderr.write(`done: ${this.done} steps in ${elapsed}s\n`)
  }
}
