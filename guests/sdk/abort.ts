// The abort handler for SDK guests: logs the message at level "error" (through the `log` import), then traps.
// The build passes `--use abort=guests/sdk/abort/guestAbort`. A trap makes the host roll back the call's writes
// and report guest_trap (or store_unavailable after a failed store call).

import { ea_log, Limits } from "./abi";
import { log } from "./host";

let aborting = false;

export function guestAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  if (!aborting) {
    aborting = true;
    let text = "guest abort: " + (message != null ? message : "(no message)");
    if (fileName != null) text += " at " + fileName + ":" + line.toString() + ":" + column.toString();
    const b = String.UTF8.encode(text, false, String.UTF8.ErrorMode.REPLACE);
    ea_log(log.ERROR, changetype<usize>(b), min(b.byteLength, Limits.LOG_BYTES));
  }
  unreachable();
}
