// The oneshot-service-plus-timer pair every periodic job of a host is installed as.
import { IniDocument, renderIni } from "./ini";

/** A oneshot service and the timer that starts it every `period` (the lab runs the scripts itself). */
export function timerUnits(opts: {
  readonly description: string;
  readonly execStart: string;
  readonly timeoutStartSec: string;
  /** systemd time span between two starts, e.g. `5min`. */
  readonly period: string;
  /** Seconds of random delay added to each start: spreads hosts that share an interval. */
  readonly randomizedDelaySec?: number;
  /** How late a start may be, at most. Default systemd's one minute. */
  readonly accuracySec?: string;
}): { service: string; timer: string } {
  const service: IniDocument = [
    ["Unit", { Description: opts.description, After: "network-online.target" }],
    [
      "Service",
      {
        Type: "oneshot",
        ExecStart: opts.execStart,
        // A oneshot has no start timeout by default: a hung run would block every later one.
        TimeoutStartSec: opts.timeoutStartSec,
      },
    ],
  ];
  const timer: IniDocument = [
    ["Unit", { Description: `${opts.description}, every ${opts.period}` }],
    [
      "Timer",
      {
        OnBootSec: opts.period,
        OnUnitActiveSec: opts.period,
        RandomizedDelaySec: opts.randomizedDelaySec,
        AccuracySec: opts.accuracySec,
      },
    ],
    ["Install", { WantedBy: "timers.target" }],
  ];
  return { service: renderIni(service), timer: renderIni(timer) };
}
