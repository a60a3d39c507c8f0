// How long a recording upload may take, and how often it is tried. A recording's size is its
// length: a fixed deadline means a long call on a slow uplink never gets through.

/** Every upload gets at least this long (connection, TLS, the portal storing the file). */
export const UPLOAD_FLOOR_MS = 20_000;
/** The slowest uplink planned for: 128 kbit/s. A 1-minute 8 kHz WAV (0.96 MB) gets 80 s. */
export const MIN_UPLINK_BYTES_PER_S = 16_000;
/** Failed attempts after which a recording is given up (the finished call stays finished). */
export const MAX_ATTACH_ATTEMPTS = 6;

/** Time for sending `bytes` to Bitrix24: the floor plus their size at the slowest planned uplink. */
export function uploadBudgetMs(bytes: number): number {
  return UPLOAD_FLOOR_MS + Math.ceil((Math.max(0, bytes) / MIN_UPLINK_BYTES_PER_S) * 1000);
}
