// The lab's network: every host its own network namespace on its site's bridge (in a switch
// namespace of its own), one router namespace per site, and a WAN between routers that adds the
// configured delay (user space: this kernel has no netem). No namespace has a default route or any
// route beyond the lab's prefixes, and that is checked before any server starts.
import { Address4 } from "ip-address";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderDns } from "./dns";
import { STATE_DIR, Started, start } from "./processes";
import { LabSite, LabTopology, Zone } from "./topology";

export const PREFIX = "pml-";
const SWITCH = `${PREFIX}switch`;

export function ip(...args: string[]): string {
  try {
    return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: string };
    throw new Error(`ip ${args.join(" ")}: ${err.stderr?.trim() ?? String(e)}`);
  }
}

function sysctl(ns: string, setting: string): void {
  execFileSync("ip", ["netns", "exec", ns, "sysctl", "-qw", setting]);
}

export function routerNs(site: string): string {
  return `${PREFIX}${site}-router`;
}

export function dnsNs(site: string): string {
  return `${PREFIX}${site}-dns`;
}

/** A MAC derived from the address, so neighbours can be pinned (see blackhole). */
function macOf(address: string): string {
  const hex = address.split(".").map((o) => Number(o).toString(16).padStart(2, "0"));
  return `02:00:${hex.join(":")}`;
}

interface Port {
  readonly ns: string;
  readonly address: string;
  readonly site: LabSite;
}

export interface Network {
  readonly processes: Started[];
  /** Namespaces of the lab, in creation order. */
  readonly namespaces: string[];
}

export function existingLabNamespaces(): string[] {
  return ip("netns", "list")
    .split("\n")
    .map((l) => l.split(" ")[0])
    .filter((n) => n.startsWith(PREFIX));
}

export interface NetworkOptions {
  /** Added round trip between sites, in ms (half each way). Default 30. */
  readonly wanDelayMs?: number;
}

export function createNetwork(topo: LabTopology, options: NetworkOptions = {}): Network {
  const wanDelayMs = options.wanDelayMs ?? 30;
  const namespaces: string[] = [];
  const addNs = (ns: string) => {
    ip("netns", "add", ns);
    ip("-n", ns, "link", "set", "lo", "up");
    namespaces.push(ns);
  };
  addNs(SWITCH);
  topo.sites.forEach((_site, i) => {
    ip("-n", SWITCH, "link", "add", `br${i}`, "type", "bridge");
    ip("-n", SWITCH, "link", "set", `br${i}`, "up");
  });
  const bridgeOf = (site: LabSite) => `br${topo.sites.indexOf(site)}`;

  const ports: Port[] = [];
  let portIndex = 0;
  const attach = (port: Port) => {
    const switchEnd = `v${portIndex++}`;
    ip(
      "-n",
      SWITCH,
      "link",
      "add",
      switchEnd,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      port.ns,
    );
    ip("-n", SWITCH, "link", "set", switchEnd, "master", bridgeOf(port.site), "up");
    ip("-n", port.ns, "link", "set", "eth0", "address", macOf(port.address));
    ip("-n", port.ns, "addr", "add", `${port.address}/16`, "dev", "eth0");
    ip("-n", port.ns, "link", "set", "eth0", "up");
    ports.push(port);
  };

  for (const site of topo.sites) {
    const router = routerNs(site.name);
    addNs(router);
    attach({ ns: router, address: site.routerAddress, site });
    sysctl(router, "net.ipv4.ip_forward=1");
    const dns = dnsNs(site.name);
    addNs(dns);
    attach({ ns: dns, address: site.dnsAddress, site });
  }
  for (const host of topo.hosts) {
    const site = topo.sites.find((s) => s.name === host.site)!;
    addNs(host.ns);
    attach({ ns: host.ns, address: host.address, site });
    for (const other of topo.sites.filter((s) => s !== site)) {
      ip("-n", host.ns, "route", "add", other.cidr, "via", site.routerAddress);
    }
    mkdirSync(`/etc/netns/${host.ns}`, { recursive: true });
    writeFileSync(
      `/etc/netns/${host.ns}/resolv.conf`,
      `nameserver ${site.dnsAddress}\noptions timeout:1 attempts:2\n`,
    );
  }
  // Pinned neighbours: a host whose address is taken away (blackhole) then drops packets silently
  // instead of its neighbours failing fast on ARP.
  for (const port of ports) {
    for (const peer of ports.filter((p) => p.site === port.site && p !== port)) {
      ip(
        "-n",
        port.ns,
        "neigh",
        "replace",
        peer.address,
        "lladdr",
        macOf(peer.address),
        "dev",
        "eth0",
        "nud",
        "permanent",
      );
    }
  }

  // WAN links: a TUN device per pair of routers, routed to the other site, joined by wan.py.
  const processes: Started[] = [];
  topo.sites.forEach((a, i) =>
    topo.sites.slice(i + 1).forEach((b, k) => {
      const j = i + 1 + k;
      for (const [site, other, idx] of [
        [a, b, j],
        [b, a, i],
      ] as const) {
        const dev = `wan${idx}`;
        ip("-n", routerNs(site.name), "tuntap", "add", "dev", dev, "mode", "tun");
        ip("-n", routerNs(site.name), "link", "set", dev, "up");
        ip("-n", routerNs(site.name), "route", "add", other.cidr, "dev", dev);
      }
      processes.push(
        // Above the hosts' priority: it stands for a network, which does not share their CPUs,
        // and a relay starved by seven JVMs on two cores stalls connections for seconds.
        start(
          `wan ${a.name}-${b.name}`,
          "nice",
          [
            "-n",
            "-10",
            "python3",
            join(__dirname, "wan.py"),
            routerNs(a.name),
            `wan${j}`,
            routerNs(b.name),
            `wan${i}`,
            String(wanDelayMs / 2),
          ],
          join(STATE_DIR, "log", `wan-${a.name}-${b.name}.log`),
        ),
      );
    }),
  );

  const problems = checkIsolation(topo);
  if (problems.length > 0) {
    throw new Error(`lab network is not isolated, no server started:\n  ${problems.join("\n  ")}`);
  }

  for (const site of topo.sites) processes.push(startDns(site, topo.zones.get(site.name)!));
  return { processes, namespaces };
}

/** A site's DNS server (dnsmasq at the VPC resolver's address) answering `zone`. */
export function startDns(site: LabSite, zone: Zone): Started {
  const dir = join(STATE_DIR, "dns", site.name);
  mkdirSync(dir, { recursive: true });
  const files = renderDns(site, zone, join(dir, "hosts"));
  writeFileSync(join(dir, "hosts"), files.hosts);
  writeFileSync(join(dir, "dnsmasq.conf"), files.conf);
  return start(
    `dns ${site.name}`,
    "ip",
    [
      "netns",
      "exec",
      dnsNs(site.name),
      "dnsmasq",
      "--keep-in-foreground",
      `--conf-file=${join(dir, "dnsmasq.conf")}`,
      `--pid-file=${join(dir, "dnsmasq.pid")}`,
      "--log-facility=-",
    ],
    join(STATE_DIR, "log", `dns-${site.name}.log`),
  );
}

/**
 * Every lab namespace must reach only the lab: no default route, only routes inside the sites'
 * prefixes, only loopback, lab veths and WAN TUNs. Returns what is wrong (empty: isolated).
 */
export function checkIsolation(topo: LabTopology): string[] {
  const prefixes = topo.sites.map((s) => s.cidr);
  const problems: string[] = [];
  for (const ns of existingLabNamespaces()) {
    for (const family of ["-4", "-6"]) {
      for (const line of ip("-n", ns, family, "route", "show", "table", "all")
        .split("\n")
        .filter(Boolean)) {
        const dest = line.split(" ")[0];
        const local =
          /^(local|broadcast|multicast|anycast|fe80::|ff00::|::1)/.test(line) ||
          line.includes("table local");
        if (local) continue;
        if (dest === "default" || !prefixes.some((p) => insidePrefix(dest, p))) {
          problems.push(`${ns}: route ${line}`);
        }
      }
    }
    for (const link of ip("-n", ns, "-o", "link", "show").split("\n").filter(Boolean)) {
      const name = link.split(": ")[1]?.split("@")[0];
      if (name && !/^(lo|eth0|br\d+|v\d+|wan\d+)$/.test(name))
        problems.push(`${ns}: unexpected interface ${name}`);
    }
  }
  return problems;
}

function insidePrefix(dest: string, prefix: string): boolean {
  const cidr = dest.includes("/") ? dest : `${dest}/32`;
  return Address4.isValid(cidr) && new Address4(cidr).isInSubnet(new Address4(prefix));
}

/** Takes a host off the network without telling anyone: its packets are dropped, nothing answers. */
export function blackhole(ns: string, address: string): void {
  ip("-n", ns, "addr", "del", `${address}/16`, "dev", "eth0");
}

/** Cuts one host off from one address (a blackhole route): connections to it fail at once. */
export function unreachable(ns: string, address: string): void {
  ip("-n", ns, "route", "add", "blackhole", `${address}/32`);
}

/** Undoes unreachable(). */
export function reachable(ns: string, address: string): void {
  ip("-n", ns, "route", "del", "blackhole", `${address}/32`);
}

export function restore(
  ns: string,
  address: string,
  site: LabSite,
  sites: readonly LabSite[],
): void {
  ip("-n", ns, "addr", "add", `${address}/16`, "dev", "eth0");
  for (const other of sites.filter((s) => s !== site))
    ip("-n", ns, "route", "replace", other.cidr, "via", site.routerAddress);
}

/**
 * Cuts the WAN: every router drops what it would send to another site, silently, as a link that is
 * gone does. joinWan() puts the links back.
 */
export function cutWan(topo: LabTopology): void {
  for (const site of topo.sites) {
    for (const other of topo.sites.filter((s) => s !== site)) {
      ip("-n", routerNs(site.name), "route", "replace", "blackhole", other.cidr);
    }
  }
}

/** Undoes cutWan(): each router sends another site's traffic over its TUN device again. */
export function joinWan(topo: LabTopology): void {
  topo.sites.forEach((site) => {
    topo.sites.forEach((other, idx) => {
      if (other === site) return;
      ip("-n", routerNs(site.name), "route", "replace", other.cidr, "dev", `wan${idx}`);
    });
  });
}

/** Removes every lab namespace and its resolv.conf. Processes are stopped first (processes.ts). */
export function removeNetwork(): string[] {
  const removed = existingLabNamespaces();
  for (const ns of removed) {
    ip("netns", "del", ns);
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
  return removed;
}
