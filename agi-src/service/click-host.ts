// Click-to-call inside the resident service: while the config has it on with a local application,
// the offline-event poller on the service's manager (AMI) connection (manager.ts: FreePBX's own
// manager user, handed to the service in its environment by the module, never in the config
// file). A config that changes restarts it; the manager secret is masked in every log line like
// the config's secrets.
import { Ami, amiOptionsFromEnv } from '../ami/client';
import { ClickToCall, startClickToCall } from '../click/click-to-call';
import { Config, configSecrets } from '../config/config';
import { Backend, Services } from '../flows/services';
import { Logger } from '../log/logger';
import type { ManagerHost } from './manager';

/** What the status file says about click-to-call: off, why it does not run, or the poller's state. */
export interface ClickStatus {
  state: 'off' | 'needs-application' | 'no-manager-credentials' | ClickToCall['poller']['status'];
  amiConnected: boolean;
}

/** The manager secret the module put in the service's environment, for the loggers' masks. */
export function managerSecrets(env: NodeJS.ProcessEnv = process.env): string[] {
  const o = amiOptionsFromEnv(env);
  return o ? [o.secret] : [];
}

/** A backend lent for as long as click-to-call runs on it (see Service.hold). */
export type BackendLease = () => { backend: Backend; done(): void } | undefined;

interface Running {
  ami: Ami;
  clicks: ClickToCall;
  release(): void;
}

export class ClickToCallHost {
  private running?: Running;
  private state: ClickStatus['state'] = 'off';
  private key = '';
  private chain: Promise<void> = Promise.resolve();

  constructor(
    /** The service's manager connection: opened for click-to-call by its own apply(), shared, never closed here. */
    private readonly manager: ManagerHost,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** The config in force (at start, after each reload): starts, restarts or stops click-to-call. */
  apply(config: Config, lease: BackendLease): Promise<void> {
    this.chain = this.chain.then(() => this.reconcile(config, lease)).catch(() => undefined);
    return this.chain;
  }

  stop(): Promise<void> {
    this.key = '';
    this.chain = this.chain.then(() => this.halt()).catch(() => undefined);
    return this.chain;
  }

  status(): ClickStatus {
    const r = this.running;
    return { state: r ? r.clicks.poller.status : this.state, amiConnected: !!r?.ami.connected };
  }

  private async reconcile(config: Config, lease: BackendLease): Promise<void> {
    const key = JSON.stringify(config);
    if (key === this.key) return; // the module rewrote the same settings (every reload does)
    this.key = key;
    await this.halt();
    const log = new Logger('click-to-call');
    log.configure({ path: config.logPath, level: config.logLevel, secrets: [...configSecrets(config), ...managerSecrets(this.env)] });
    if (!config.enabled || !config.clickToCall) return;
    if (!config.app) {
      this.state = 'needs-application';
      log.warn('click-to-call is on, but Bitrix24 hands clicks only to the local application (Connect on the settings page); no clicks are taken');
      return;
    }
    const ami = this.manager.ami();
    if (!ami) {
      this.state = 'no-manager-credentials';
      log.error('click-to-call is on, but the module gave the service no manager (AMI) credentials; no clicks are taken (restart the service from the module: Apply Config)');
      return;
    }
    const held = lease();
    if (!held) {
      this.state = 'off';
      return;
    }
    // Background priority: clicks share the portal's budget with the calls, which come first.
    const services = new Services(config, log, Date.now, 0, 'background', { backend: held.backend });
    this.running = { ami, clicks: startClickToCall(services, ami), release: () => held.done() };
  }

  private async halt(): Promise<void> {
    const r = this.running;
    this.running = undefined;
    this.state = 'off';
    if (!r) return;
    await r.clicks.stop().catch(() => undefined);
    r.release();
  }
}
