// The resident service's one manager (AMI) connection, with FreePBX's own manager user from the
// service's environment (never the config file). It runs while something in the service needs
// it — click-to-call, or following the transfers of reported calls (listed DIDs) — and is shared
// by both; without credentials there is none. The secret is masked in every log line.
import { AmiClient, AmiOptions, amiOptionsFromEnv } from '../ami/client';
import { Config, configSecrets } from '../config/config';
import { Logger } from '../log/logger';

/** What needs the manager under a config: click-to-call (with the local application), transfers (reported calls). */
export function managerWanted(config: Config): { clickToCall: boolean; transfers: boolean } {
  return {
    clickToCall: config.enabled && config.clickToCall && !!config.app,
    transfers: config.enabled && config.dids.length > 0,
  };
}

export class ManagerHost {
  private client?: AmiClient;
  readonly log = new Logger('ami');

  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    /** Test seam: the connection for these options. */
    private readonly connect: (opts: AmiOptions, log: Logger) => AmiClient = (opts, log) => new AmiClient(opts, log),
  ) {}

  /** Whether the module gave the service manager credentials at all. */
  get hasCredentials(): boolean {
    return amiOptionsFromEnv(this.env) !== null;
  }

  /** The secret the module put in the environment, for every logger's masks. */
  secrets(): string[] {
    const o = amiOptionsFromEnv(this.env);
    return o ? [o.secret] : [];
  }

  /** The config in force: the connection is opened when something needs it, closed when nothing does. */
  apply(config: Config): void {
    this.log.configure({ path: config.logPath, level: config.logLevel, secrets: [...configSecrets(config), ...this.secrets()] });
    const wanted = managerWanted(config);
    if (wanted.clickToCall || wanted.transfers) this.open();
    else this.close();
  }

  /** The connection (connected or still connecting), or null: not needed now, or no credentials. */
  ami(): AmiClient | null {
    return this.client ?? null;
  }

  get connected(): boolean {
    return !!this.client?.connected;
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }

  private open(): void {
    if (this.client) return;
    const opts = amiOptionsFromEnv(this.env);
    if (!opts) return;
    this.client = this.connect(opts, this.log);
    this.client.start();
  }
}
