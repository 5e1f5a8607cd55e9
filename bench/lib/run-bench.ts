// How a bench that starts child processes (proxies, upstreams, load generators) runs as a program: none of them may
// outlive it, whether it finishes, fails or is interrupted.

/**
 * Runs `main`. A failure is printed as `<name> failed: <stack>` and sets exit code 1; `stopChildren` runs at the end
 * either way, and on Ctrl-C before exiting with 130.
 */
export async function runBench(name: string, main: () => Promise<void>, stopChildren: () => void): Promise<void> {
  process.on('SIGINT', () => {
    stopChildren();
    process.exit(130);
  });
  try {
    await main();
  } catch (err) {
    process.stderr.write(`${name} failed: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  } finally {
    stopChildren();
  }
}
