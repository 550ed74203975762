// The sync role as its own plugin (root_id `entitlement_sync`, on a `singleton: true` bootstrap VM with
// the filter's vm_id): runs the SyncEngine for as long as it is configured.
import { RootContext } from "../binding/contexts";
import { BufferType } from "../binding/constants";
import { getBufferBytes } from "../binding/buffers";
import { logError, refreshLogLevel } from "../binding/log";
import { nowMillis, setTickPeriodMs } from "../binding/time";
import { parseSyncConfig } from "../logic/syncConfig";
import { SyncEngine, SyncMetrics } from "./syncEngine";

export const SYNC_ROOT_ID = "entitlement_sync";

const TICK_MS: u32 = 100;

export class SyncRoot extends RootContext {
  engine: SyncEngine | null = null;

  onConfigure(configurationSize: u32): bool {
    refreshLogLevel();
    const bytes = getBufferBytes(BufferType.PLUGIN_CONFIGURATION, 0, configurationSize);
    const parsed = parseSyncConfig(bytes === null ? new ArrayBuffer(0) : bytes);
    const config = parsed.config;
    if (config === null) {
      logError("entitlement_sync: rejected configuration: " + parsed.error);
      return false;
    }
    setTickPeriodMs(TICK_MS);
    const engine = this.engine;
    if (engine === null) {
      const created = new SyncEngine(config, new SyncMetrics(), "entitlement_sync");
      this.engine = created;
      created.start();
    } else {
      // Reconfiguration: start over with the new settings.
      engine.reconfigure(config);
    }
    return true;
  }

  onTick(): void {
    refreshLogLevel();
    const engine = this.engine;
    if (engine !== null) engine.tick(nowMillis());
    this.finishTeardown();
  }

  onGrpcReceive(token: u32, messageSize: u32): void {
    const engine = this.engine;
    if (engine !== null) engine.onGrpcReceive(token, messageSize);
    this.finishTeardown();
  }

  onGrpcClose(token: u32, statusCode: u32): void {
    const engine = this.engine;
    if (engine !== null) engine.onGrpcClose(token, statusCode);
    this.finishTeardown();
  }

  /** Envoy is removing the plugin: usage not yet acknowledged is reported first (see SyncEngine.beginTeardown). */
  onDone(): bool {
    const engine = this.engine;
    return engine === null || engine.beginTeardown(nowMillis());
  }

  private finishTeardown(): void {
    const engine = this.engine;
    if (engine !== null) engine.signalDoneWhenSettled();
  }

  onQueueReady(queueId: u32): void {
    const engine = this.engine;
    if (engine !== null) engine.onQueueReady(queueId);
  }
}

export function createSyncRoot(id: u32, rootId: string): RootContext {
  return new SyncRoot(id, rootId);
}
