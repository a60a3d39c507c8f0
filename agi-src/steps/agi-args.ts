// The AGI executables' arguments: identifiers first (DID or extension), then `--config <path>`
// or `--config=<path>`. A few lines instead of commander: the caller waits for our start-up.

export interface AgiArgs {
  arg: string | undefined;
  config: string | undefined;
}

export function parseAgiArgv(argv: readonly string[]): AgiArgs {
  const out: AgiArgs = { arg: undefined, config: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--config') out.config = argv[++i];
    else if (a.startsWith('--config=')) out.config = a.slice('--config='.length);
    else if (!a.startsWith('--') && out.arg === undefined) out.arg = a;
  }
  return out;
}
