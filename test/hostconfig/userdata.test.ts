import { randomBytes } from "crypto";
import { gzipSync } from "zlib";
import { caFingerprint } from "../../infra/hostconfig/ca-pin";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import {
  ALLOWLIST_REFRESH_MINUTES,
  AUTH_ROLES,
  CONF_DIR,
  CaHost,
  CompileMasterHost,
  HostConfig,
  LIB_DIR,
  USER_DATA_LIMIT,
  decodeUserData,
  encodeUserData,
  hostFiles,
  hostSettings,
  instanceUserData,
  renderUserData,
} from "../../infra/hostconfig";
import {
  ALL_HOSTS,
  CA,
  DOMAIN,
  FAKE_CA_KEY_MARKER,
  FAKE_CHALLENGE,
  FAKE_DB_PASSWORD,
  STANDBY_CA,
  caHost,
  masterHost,
  puppetdbHost,
  standbyCaHost,
} from "./fixtures";
import { fileOf, iniDoc, jsonDoc, parseUserData } from "./helpers";

const conf = (name: string) => `${CONF_DIR}/${name}`;

describe("user data of every role", () => {
  for (const host of ALL_HOSTS) {
    describe(host.certname, () => {
      const userData = renderUserData(host);
      const parsed = parseUserData(userData);

      it("is a #cloud-config document under EC2's 16 KB limit once gzipped", () => {
        expect(userData).toMatch(/^#cloud-config\n/);
        expect(Buffer.from(encodeUserData(userData), "base64").length).toBeLessThan(
          USER_DATA_LIMIT,
        );
      });

      it("runs one command, which hands the boot to its unit, and lists the role's script", () => {
        expect(parsed.runcmd).toEqual([[`${LIB_DIR}/boot.sh`, "start"]]);
        expect(parsed.files.get(`${LIB_DIR}/boot.sh`)?.permissions).toBe("0755");
        expect(parsed.files.get(`${LIB_DIR}/${host.role}.sh`)?.permissions).toBe("0755");
        expect(fileOf(parsed, `${LIB_DIR}/lib.sh`)).toContain("secret_get()");
      });

      it("carries only the scripts that fetch the others, which it names by hash", () => {
        const carried = [...parsed.files.keys()].filter(
          (p) => p.startsWith(`${LIB_DIR}/`) && !parsed.fetched.has(p),
        );
        expect(carried.sort()).toEqual(
          ["boot.sh", "lib.sh", "ssm-agent.sh"].map((n) => `${LIB_DIR}/${n}`),
        );
        expect(parsed.fetched).toContain(`${LIB_DIR}/${host.role}.sh`);
        const manifest = fileOf(parsed, conf("scripts.sha256"));
        expect(manifest).toMatch(/^([0-9a-f]{64} {2}[a-z0-9_/.-]+\n)+$/);
        expect(fileOf(parsed, conf("host.env"))).toContain(
          `SCRIPTS_BUCKET='${host.scriptsBucket}'`,
        );
      });

      it("names its secrets and never carries a secret value", () => {
        const all = [userData, ...[...parsed.files.values()].map((f) => f.content)].join("\n");
        for (const secret of [
          FAKE_CHALLENGE,
          FAKE_DB_PASSWORD,
          FAKE_CA_KEY_MARKER,
          "PRIVATE KEY",
        ]) {
          expect(all).not.toContain(secret);
        }
        const env = fileOf(parsed, conf("host.env"));
        expect(env).toContain(`SERVER_CHALLENGE_SECRET_NAME='${host.serverChallengeSecret.name}'`);
        expect(env).toContain(
          `SERVER_CHALLENGE_SECRET_REGION='${host.serverChallengeSecret.region}'`,
        );
        // Only the CA reads the agent challenge: it checks agents' CSRs against it.
        expect(env.includes("AGENT_CHALLENGE_SECRET_NAME=")).toBe(host.role === "ca");
      });

      it("carries the CA certificate (the active CA) or its pinned fingerprint (every other host)", () => {
        const env = fileOf(parsed, conf("host.env"));
        if (host.role === "ca" && !host.standby) {
          expect(fileOf(parsed, conf("ca.pem"))).toBe(host.caCertificatePem);
          expect(env).not.toContain("CA_FINGERPRINT=");
        } else {
          expect(parsed.files.has(conf("ca.pem"))).toBe(false);
          expect(env).toContain(`CA_FINGERPRINT='${caFingerprint(host.caCertificatePem)}'`);
        }
      });

      it("points puppet.conf at the CA with short connection timeouts", () => {
        const main = iniDoc(fileOf(parsed, conf("puppet.conf"))).main;
        expect(main.certname).toBe(host.certname);
        expect(main.ca_server).toBe(CA);
        expect(main.http_connect_timeout).toBe("1s");
        expect(main.http_keepalive_timeout).toBe("0");
      });
    });
  }
});

describe("CA user data", () => {
  const parsed = parseUserData(renderUserData(caHost));

  it("enables the CA service and allows alt names and auth extensions", () => {
    expect(fileOf(parsed, conf("puppetserver/ca.cfg"))).toMatch(
      /^puppetlabs\.services\.ca\.certificate-authority-service\/certificate-authority-service$/m,
    );
    expect(jsonDoc(fileOf(parsed, conf("puppetserver/ca.conf")))).toEqual({
      "certificate-authority": {
        "allow-subject-alt-names": true,
        "allow-authorization-extensions": true,
      },
    });
  });

  it("autosigns through the policy executable, never `true`, and lets a server be re-keyed", () => {
    const ini = iniDoc(fileOf(parsed, conf("puppet.conf")));
    expect(ini.server.autosign).toBe("/etc/puppet/puppetserver/autosign.rb");
    // Without it the CA refuses a replaced server's CSR before the autosigner sees it.
    expect(ini.server.allow_duplicate_certs).toBe(true);
    expect(fileOf(parsed, `${LIB_DIR}/autosign.rb`)).toContain("1.2.840.113549.1.9.7");
  });

  it("gives the autosigner the server identities as templates, whatever the pool sizes", () => {
    const policy = jsonDoc(fileOf(parsed, conf("autosign-policy.json")));
    expect(policy.servers).toEqual({
      [AUTH_ROLES["compile-master"]]: {
        certname: `master-{index}.{site}.${DOMAIN}`,
        altNames: [`master-{index}.{site}.${DOMAIN}`, `pool.{site}.${DOMAIN}`, `puppet.${DOMAIN}`],
      },
      [AUTH_ROLES.puppetdb]: { certname: `puppetdb.{site}.${DOMAIN}`, altNames: [] },
      // The standby CA by its exact name, with the names a promoted CA answers to.
      [AUTH_ROLES.ca]: { certname: STANDBY_CA, altNames: [STANDBY_CA, CA] },
    });
    expect(policy.reservedCertnames).toEqual([
      CA,
      `ca.{site}.${DOMAIN}`,
      `puppet.${DOMAIN}`,
      `master-{index}.{site}.${DOMAIN}`,
      `pool.{site}.${DOMAIN}`,
      `puppetdb.{site}.${DOMAIN}`,
    ]);
    expect(policy.challenges).toEqual({
      server: "/etc/puppet/puppetserver/autosign-server-challenge",
      agent: "/etc/puppet/puppetserver/autosign-agent-challenge",
    });
    expect(policy.ca).toMatchObject({
      certname: CA,
      address: "127.0.0.1",
      port: 8140,
      signedDir: "/etc/puppet/puppetserver/ca/signed",
      standbyMarker: "/etc/puppet/puppetserver/ca/puppet-multisite-standby",
      cert: `/var/lib/puppet/ssl/certs/${CA}.pem`,
    });
  });

  it("names the CA key and both challenge secrets and sizes the heap", () => {
    const env = fileOf(parsed, conf("host.env"));
    expect(env).toContain("CA_KEY_SECRET_NAME='puppet-multisite/ca-key'");
    expect(env).toContain("SERVER_CHALLENGE_SECRET_NAME='puppet-multisite/server-challenge'");
    expect(env).toContain("AGENT_CHALLENGE_SECRET_NAME='puppet-multisite/challenge'");
    expect(fileOf(parsed, conf("default-puppetserver"))).toContain(
      "JAVA_ARGS='-Xms2048m -Xmx2048m ",
    );
  });
});

describe("standby CA user data", () => {
  const parsed = parseUserData(renderUserData(standbyCaHost));
  const env = fileOf(parsed, conf("host.env"));

  it("starts as the standby of the active CA, copying its records on a timer", () => {
    expect(env).toContain("CA_MODE='standby'");
    expect(env).toContain(`CA_SERVER='${CA}'`);
    expect(env).toContain("CA_SYNC_SECONDS='60'");
    const timer = iniDoc(fileOf(parsed, conf("systemd/puppet-multisite-ca-sync.timer")));
    expect(timer.Timer).toMatchObject({ OnUnitActiveSec: "60s", AccuracySec: "1s" });
    const service = iniDoc(fileOf(parsed, conf("systemd/puppet-multisite-ca-sync.service")));
    expect(service.Service.ExecStart).toBe(`${LIB_DIR}/ca-sync.rb`);
    expect(fileOf(parsed, `${LIB_DIR}/ca-sync.rb`)).toContain("certificate_statuses");
    expect(parsed.files.get(`${LIB_DIR}/ca-promote.rb`)?.permissions).toBe("0755");
  });

  it("asks for a CA's certificate: pp_auth_role puppet-ca, its name and ca.<domain>", () => {
    expect(parse(fileOf(parsed, conf("csr_attributes.yaml")))).toEqual({
      extension_requests: { pp_auth_role: "puppet-ca" },
    });
    // Puppet Server refuses pp_cli_auth in a CSR: the CAs admit each other in auth.conf instead.
    expect(env).toContain(`CA_PEERS='${CA}'`);
    const ini = iniDoc(fileOf(parsed, conf("puppet.conf")));
    expect(ini.main.dns_alt_names).toBe(`${STANDBY_CA},${CA}`);
    expect(ini.server.autosign).toBe("/etc/puppet/puppetserver/autosign.rb");
  });

  it("reads the CA key and both challenges in its own region", () => {
    expect(env).toContain("CA_KEY_SECRET_REGION='eu-west-1'");
    expect(env).toContain("AGENT_CHALLENGE_SECRET_REGION='eu-west-1'");
  });

  it("gives the active CA the copy and the promotion too, for when a promoted peer fences it", () => {
    const active = parseUserData(renderUserData(caHost));
    const env = fileOf(active, conf("host.env"));
    expect(env).toContain("CA_MODE='active'");
    expect(env).toContain(`CA_PEERS='${STANDBY_CA}'`);
    expect(env).toContain("CA_SYNC_SECONDS='60'");
    const timer = iniDoc(fileOf(active, conf("systemd/puppet-multisite-ca-sync.timer")));
    expect(timer.Timer.OnUnitActiveSec).toBe("60s");
    expect(active.files.has(conf("csr_attributes.yaml"))).toBe(false);
    expect(active.fetched).toContain(`${LIB_DIR}/ca-sync.rb`);
    expect(active.fetched).toContain(`${LIB_DIR}/ca-promote.rb`);
  });

  it("leaves a CA without peers without a copy timer", () => {
    const alone = parseUserData(
      renderUserData({ ...caHost, peerCas: [], syncIntervalSeconds: undefined }),
    );
    expect(fileOf(alone, conf("host.env"))).not.toContain("CA_SYNC_SECONDS");
    expect(alone.files.has(conf("systemd/puppet-multisite-ca-sync.timer"))).toBe(false);
  });
});

describe("compile master user data", () => {
  const host = masterHost("site-a", 1);
  const parsed = parseUserData(renderUserData(host));
  const ini = iniDoc(fileOf(parsed, conf("puppet.conf")));

  it("disables the CA service", () => {
    const cfg = fileOf(parsed, conf("puppetserver/ca.cfg"));
    expect(cfg).toContain(
      "certificate-authority-disabled-service/certificate-authority-disabled-service",
    );
    expect(cfg).not.toMatch(/certificate-authority-service\/certificate-authority-service/);
  });

  it("asks for every name agents use and the compile-master role", () => {
    expect(String(ini.main.dns_alt_names).split(",")).toEqual([
      "master-1.site-a.puppet.example.internal",
      "pool.site-a.puppet.example.internal",
      "puppet.puppet.example.internal",
    ]);
    expect(parse(fileOf(parsed, conf("csr_attributes.yaml")))).toEqual({
      extension_requests: { pp_auth_role: "puppet-compile-master" },
    });
  });

  it("stores catalogs, facts and reports in PuppetDB, local site first, soft failures", () => {
    expect(ini.server.storeconfigs).toBe(true);
    expect(ini.server.storeconfigs_backend).toBe("puppetdb");
    expect(ini.server.reports).toBe("puppetdb");
    expect(ini.server.route_file).toBe("/etc/puppet/routes.yaml");
    const pdb = iniDoc(fileOf(parsed, conf("puppetdb.conf"))).main;
    expect(String(pdb.server_urls).split(",")).toEqual([
      "https://puppetdb.site-a.puppet.example.internal:8081",
      "https://puppetdb.site-b.puppet.example.internal:8081",
    ]);
    expect(pdb.soft_write_failure).toBe(true);
    expect(pdb.server_url_timeout).toBe("10");
    // The spool's terminus: PuppetDB's, loaded by every JRuby as it reads the routes.
    expect(parse(fileOf(parsed, conf("routes.yaml")))).toEqual({
      server: { facts: { terminus: "puppetdb_spool", cache: "yaml" } },
    });
  });

  it("bounds the waits on PuppetDB where Puppet Server reads them, and puts the spool on its load path", () => {
    const conf = JSON.parse(
      fileOf(parsed, "/etc/puppet-multisite/puppetserver/puppetserver.conf"),
    ) as Record<string, Record<string, unknown>>;
    expect(conf["http-client"]).toEqual({
      "connect-timeout-milliseconds": 1000,
      "idle-timeout-milliseconds": 10000,
    });
    expect(conf["jruby-puppet"]["ruby-load-path"]).toEqual([
      "/usr/lib/puppetserver/ruby/vendor_ruby",
      "/usr/local/lib/puppet-multisite/ruby",
    ]);
    // The spool's Ruby sits where that load path and the terminus's name say.
    const paths = [...parsed.files.keys()];
    expect(paths).toContain(
      "/usr/local/lib/puppet-multisite/ruby/puppet/indirector/facts/puppetdb_spool.rb",
    );
    expect(paths).toContain("/usr/local/lib/puppet-multisite/ruby/puppet_multisite/pdb_spool.rb");
    const spool = JSON.parse(
      fileOf(parsed, "/etc/puppet-multisite/puppetdb-spool.json"),
    ) as unknown;
    expect(spool).toEqual({
      dir: "/var/lib/puppetserver/puppetdb-spool",
      max_mb: 2048,
      server_urls: [
        "https://puppetdb.site-a.puppet.example.internal:8081",
        "https://puppetdb.site-b.puppet.example.internal:8081",
      ],
      tls: {
        cert: "/var/lib/puppet/ssl/certs/master-1.site-a.puppet.example.internal.pem",
        key: "/var/lib/puppet/ssl/private_keys/master-1.site-a.puppet.example.internal.pem",
        ca: "/var/lib/puppet/ssl/certs/ca.pem",
        crl: "/var/lib/puppet/ssl/crl.pem",
      },
    });
    // compile-master.sh makes the same directory, read from its settings.
    expect(fileOf(parsed, "/etc/puppet-multisite/host.env")).toContain(
      "PUPPETDB_SPOOL_DIR='/var/lib/puppetserver/puppetdb-spool'",
    );
    const timer = iniDoc(
      fileOf(parsed, "/etc/puppet-multisite/systemd/puppet-multisite-spool.timer"),
    );
    expect(timer.Timer).toMatchObject({ OnUnitActiveSec: "15s", AccuracySec: "1s" });
    const service = iniDoc(
      fileOf(parsed, "/etc/puppet-multisite/systemd/puppet-multisite-spool.service"),
    );
    expect(service.Service.ExecStart).toBe("/usr/local/lib/puppet-multisite/pdb-spool.rb drain");
  });

  it("deploys the control repository on a timer, bounded in time, and reports the deployed commit", () => {
    const env = fileOf(parsed, conf("host.env"));
    expect(env).toContain("CONTROL_REPO_URL='https://git.example.internal/puppet/control.git'");
    expect(env).toContain("CONTROL_REPO_BRANCH='production'");
    // Puppet 7 refuses config_version in puppet.conf: code-sync.sh writes it to environment.conf.
    expect(ini.server.config_version).toBeUndefined();
    const timer = iniDoc(fileOf(parsed, conf("systemd/puppet-multisite-sync.timer")));
    expect(timer.Timer).toEqual({
      OnBootSec: "5min",
      OnUnitActiveSec: "5min",
      RandomizedDelaySec: "30",
    });
    const service = iniDoc(fileOf(parsed, conf("systemd/puppet-multisite-sync.service")));
    // Its own unit, with a start timeout: a stalled fetch never holds back the CRL.
    expect(service.Service).toEqual({
      Type: "oneshot",
      ExecStart: `${LIB_DIR}/code-sync.sh`,
      TimeoutStartSec: "15min",
    });
    for (const script of ["code-sync.sh", "crl-refresh.sh"]) {
      expect(parsed.files.get(`${LIB_DIR}/${script}`)?.permissions).toBe("0755");
    }
  });
});

describe("PuppetDB user data", () => {
  for (const site of ["site-a", "site-b"] as const) {
    const host = puppetdbHost(site);
    const parsed = parseUserData(renderUserData(host));

    it(`${site}: database settings without the password, migrate only on the migrating one`, () => {
      const doc = jsonDoc(fileOf(parsed, conf("puppetdb/database.conf")));
      const primary = "puppetdb.cluster-abc123.us-east-1.rds.amazonaws.com:5432";
      const replica = "puppetdb-replica.def456.eu-west-1.rds.amazonaws.com:5432";
      const tls = "sslmode=verify-full&sslrootcert=/etc/puppetdb/database-ca.pem";
      if (site === "site-a") {
        // No replica: one database, and no [read-database] (PuppetDB reads [database] then).
        expect(doc).toEqual({
          database: {
            subname: `//${primary}/puppetdb?${tls}`,
            username: "puppetdb",
            migrate: "true",
          },
        });
      } else {
        // The failover site: writes to whichever takes them, the promoted replica first; reads
        // from the replica, standby or promoted, else from the primary.
        expect(doc).toEqual({
          database: {
            subname: `//${replica},${primary}/puppetdb?targetServerType=primary&${tls}`,
            username: "puppetdb",
            migrate: "false",
          },
          "read-database": {
            subname: `//${replica},${primary}/puppetdb?${tls}`,
            username: "puppetdb",
          },
        });
      }
      const env = fileOf(parsed, conf("host.env"));
      expect(env).toContain("DB_PASSWORD_SECRET_NAME='puppet-multisite/puppetdb-db-password'");
      expect(env).toContain(`PUPPETDB_MIGRATE='${site === "site-a"}'`);
      const replicaEnv = [
        "DB_REPLICA_HOST='puppetdb-replica.def456.eu-west-1.rds.amazonaws.com'",
        "DB_REPLICA_PORT='5432'",
      ];
      for (const line of replicaEnv) {
        if (site === "site-a") expect(env).not.toContain(line);
        else expect(env).toContain(line);
      }
    });

    it(`${site}: verifies the database against the CA bundle it fetches, as libpq does too`, () => {
      const env = fileOf(parsed, conf("host.env"));
      // The database's region (site-a's) on both sites; site-b's replica's too.
      const east = "https://truststore.pki.rds.amazonaws.com/us-east-1/us-east-1-bundle.pem";
      const west = "https://truststore.pki.rds.amazonaws.com/eu-west-1/eu-west-1-bundle.pem";
      expect(env).toContain(
        site === "site-a" ? `DB_CA_BUNDLE_URLS='${east}'` : `DB_CA_BUNDLE_URLS='${east} ${west}'`,
      );
      // libpq's own variables: the scripts' psql and pg_isready verify as PuppetDB does.
      expect(env).toContain("PGSSLMODE='verify-full'");
      expect(env).toContain("PGSSLROOTCERT='/etc/puppetdb/database-ca.pem'");
      expect(env).not.toContain("DB_SSLMODE");
      expect(parsed.files.get(`${LIB_DIR}/db-ca-bundle.sh`)?.permissions).toBe("0755");
      // Fetched before the first connection to the database (pg_trgm, PuppetDB's start).
      const script = fileOf(parsed, `${LIB_DIR}/puppetdb.sh`);
      const fetch = script.indexOf('"$PM_LIB_DIR/db-ca-bundle.sh"');
      expect(fetch).toBeGreaterThan(0);
      expect(fetch).toBeLessThan(script.indexOf("\nwrite_password_file\n"));
      expect(fetch).toBeLessThan(script.search(/\n\s*ensure_pg_trgm\n/));
    });

    it(`${site}: TLS from the CA and an allowlist of every Puppet server`, () => {
      const jetty = jsonDoc(fileOf(parsed, conf("puppetdb/jetty.conf"))).jetty;
      expect(jetty).toMatchObject({
        "ssl-port": 8081,
        "ssl-cert": "/etc/puppetdb/ssl/public.pem",
        "ssl-key": "/etc/puppetdb/ssl/private.pem",
        "ssl-ca-cert": "/etc/puppetdb/ssl/ca.pem",
      });
      const config = jsonDoc(fileOf(parsed, conf("puppetdb/config.conf")));
      expect(config.puppetdb["certificate-allowlist"]).toBe("/etc/puppetdb/certificate-allowlist");
      expect(fileOf(parsed, conf("puppetdb/certificate-allowlist")).trim().split("\n")).toEqual([
        CA,
        `master-1.site-a.${DOMAIN}`,
        `master-2.site-a.${DOMAIN}`,
        `master-1.site-b.${DOMAIN}`,
        `master-2.site-b.${DOMAIN}`,
      ]);
      expect(parse(fileOf(parsed, conf("csr_attributes.yaml")))).toEqual({
        extension_requests: { pp_auth_role: "puppetdb" },
      });
    });

    it(`${site}: reloads its CRL on change, through the filesystem-watch service`, () => {
      expect(fileOf(parsed, conf("puppetdb/bootstrap-services.cfg"))).toBe(
        "puppetlabs.trapperkeeper.services.watcher.filesystem-watch-service/filesystem-watch-service\n",
      );
      expect(fileOf(parsed, `${LIB_DIR}/puppetdb.sh`)).toContain(
        '"$PM_CONF_DIR/puppetdb/bootstrap-services.cfg"',
      );
      const jetty = jsonDoc(fileOf(parsed, conf("puppetdb/jetty.conf"))).jetty;
      expect(jetty["ssl-crl-path"]).toBe("/etc/puppetdb/ssl/crl.pem");
    });

    it(`${site}: follows every site's SRV record on a timer for the other masters`, () => {
      const env = fileOf(parsed, conf("host.env"));
      expect(env).toContain(
        `ALLOWLIST_SRV_RECORDS='_x-puppet._tcp.site-a.${DOMAIN} _x-puppet._tcp.site-b.${DOMAIN}'`,
      );
      expect(env).toContain(`ALLOWLIST_REFRESH_MINUTES='${ALLOWLIST_REFRESH_MINUTES}'`);
      const service = iniDoc(fileOf(parsed, conf("systemd/puppet-multisite-allowlist.service")));
      expect(service.Service).toEqual({
        Type: "oneshot",
        ExecStart: `${LIB_DIR}/allowlist-refresh.sh`,
        TimeoutStartSec: "10min",
      });
      const timer = iniDoc(fileOf(parsed, conf("systemd/puppet-multisite-allowlist.timer")));
      expect(timer.Timer).toMatchObject({
        OnBootSec: `${ALLOWLIST_REFRESH_MINUTES}min`,
        OnUnitActiveSec: `${ALLOWLIST_REFRESH_MINUTES}min`,
      });
      expect(timer.Install).toEqual({ WantedBy: "timers.target" });
      expect(parsed.files.get(`${LIB_DIR}/allowlist-refresh.sh`)?.permissions).toBe("0755");
    });
  }

  it("restarts a PuppetDB that exits, e.g. one that must not migrate, started before the migration", () => {
    for (const site of ["site-a", "site-b"] as const) {
      const parsed = parseUserData(renderUserData(puppetdbHost(site)));
      // Debian's unit says Restart=on-abnormal: an exit code (109 for "not fully migrated") would
      // leave PuppetDB down for good.
      expect(iniDoc(fileOf(parsed, conf("systemd/puppetdb-restart.conf")))).toEqual({
        Service: { Restart: "on-failure", RestartSec: "30s" },
      });
      expect(fileOf(parsed, `${LIB_DIR}/puppetdb.sh`)).toContain(
        "$SYSTEMD_DIR/puppetdb.service.d/puppet-multisite.conf",
      );
    }
  });

  it("replays discarded commands every minute, over PuppetDB's cleartext listener on localhost", () => {
    const host = puppetdbHost("site-a");
    const parsed = parseUserData(renderUserData(host));
    expect(iniDoc(fileOf(parsed, conf("systemd/puppet-multisite-discard-replay.service")))).toEqual(
      {
        Unit: {
          Description: "Replay the commands PuppetDB discarded",
          After: "network-online.target",
        },
        Service: {
          Type: "oneshot",
          ExecStart: `${LIB_DIR}/discard-replay.sh`,
          TimeoutStartSec: "10min",
        },
      },
    );
    expect(iniDoc(fileOf(parsed, conf("systemd/puppet-multisite-discard-replay.timer")))).toEqual({
      Unit: { Description: "Replay the commands PuppetDB discarded, every 1min" },
      Timer: { OnBootSec: "1min", OnUnitActiveSec: "1min", AccuracySec: "5s" },
      Install: { WantedBy: "timers.target" },
    });
    expect(parsed.files.get(`${LIB_DIR}/discard-replay.sh`)?.permissions).toBe("0755");
    expect(fileOf(parsed, `${LIB_DIR}/puppetdb.sh`)).toMatch(
      /^install_timers puppet-multisite-discard-replay$/m,
    );
    // The script's default URL is jetty.conf's cleartext listener: its own certificate is not on
    // the allowlist, so HTTPS would get 403 from the command endpoint.
    const jetty = jsonDoc(fileOf(parsed, conf("puppetdb/jetty.conf"))).jetty;
    expect(jetty).toMatchObject({ host: "127.0.0.1", port: 8080 });
    expect(fileOf(parsed, `${LIB_DIR}/discard-replay.sh`)).toContain(
      `url=\${PUPPET_MULTISITE_PUPPETDB_URL:-http://${String(jetty.host)}:${String(jetty.port)}}`,
    );
    expect(fileOf(parsed, conf("puppetdb/certificate-allowlist")).split("\n")).not.toContain(
      host.certname,
    );
  });

  it("without SRV records: the static allowlist only, no refresh settings or timer", () => {
    for (const allowlistSrvRecords of [undefined, []]) {
      const parsed = parseUserData(
        renderUserData({ ...puppetdbHost("site-a"), allowlistSrvRecords }),
      );
      expect(fileOf(parsed, conf("host.env"))).not.toContain("ALLOWLIST_");
      expect([...parsed.files.keys()].filter((p) => p.includes("/systemd/"))).toEqual([
        conf("systemd/puppet-multisite-boot.service"),
        conf("systemd/puppetdb-restart.conf"),
        conf("systemd/puppet-multisite-crl.service"),
        conf("systemd/puppet-multisite-crl.timer"),
        conf("systemd/puppet-multisite-discard-replay.service"),
        conf("systemd/puppet-multisite-discard-replay.timer"),
      ]);
      expect(fileOf(parsed, conf("puppetdb/certificate-allowlist"))).toContain(CA);
    }
  });

  it("refuses an SRV record name the refresh script could not use", () => {
    for (const bad of ["_x-puppet._tcp.site-a example", "a;rm -rf /", "../etc", ""]) {
      expect(() => hostSettings({ ...puppetdbHost("site-a"), allowlistSrvRecords: [bad] })).toThrow(
        /allowlistSrvRecords of puppetdb\.site-a\.puppet\.example\.internal: not a DNS name/,
      );
    }
  });
});

describe("CRL refresh units", () => {
  for (const host of [masterHost("site-a", 1), puppetdbHost("site-b")]) {
    it(`${host.certname}: asks every CA for the CRL, the active one first`, () => {
      const servers = [CA, STANDBY_CA];
      const env = fileOf(
        parseUserData(renderUserData({ ...host, caServers: servers })),
        conf("host.env"),
      );
      expect(env).toContain(`CA_SERVERS='${CA} ${STANDBY_CA}'`);
      expect(fileOf(parseUserData(renderUserData(host)), conf("host.env"))).not.toContain(
        "CA_SERVERS",
      );
      for (const bad of ["a;rm -rf /", "_x-puppet._tcp.example", "ca example"]) {
        expect(() => hostSettings({ ...host, caServers: [bad] })).toThrow(
          `caServers of ${host.certname}: not a host name`,
        );
      }
    });

    it(`${host.certname}: its own timer every crlRefreshMinutes, on time, with a start timeout`, () => {
      const parsed = parseUserData(renderUserData({ ...host, crlRefreshMinutes: 3 }));
      expect(fileOf(parsed, conf("host.env"))).toContain("CRL_REFRESH_MINUTES='3'");
      expect(iniDoc(fileOf(parsed, conf("systemd/puppet-multisite-crl.service")))).toEqual({
        Unit: {
          Description: "Fetch the CA's certificate revocation list",
          After: "network-online.target",
        },
        Service: {
          Type: "oneshot",
          ExecStart: `${LIB_DIR}/crl-refresh.sh`,
          TimeoutStartSec: "60s",
        },
      });
      expect(iniDoc(fileOf(parsed, conf("systemd/puppet-multisite-crl.timer")))).toEqual({
        Unit: { Description: "Fetch the CA's certificate revocation list, every 3min" },
        // No random delay, and a one-second accuracy instead of systemd's minute.
        Timer: { OnBootSec: "3min", OnUnitActiveSec: "3min", AccuracySec: "1s" },
        Install: { WantedBy: "timers.target" },
      });
      expect(parsed.files.get(`${LIB_DIR}/crl-refresh.sh`)?.permissions).toBe("0755");
    });
  }

  it("the CA has none: it publishes its own CRL to its host CRL", () => {
    const parsed = parseUserData(renderUserData(caHost));
    expect([...parsed.files.keys()].filter((p) => p.includes("crl"))).toEqual([]);
  });
});

describe("first-boot unit", () => {
  for (const host of ALL_HOSTS) {
    it(`${host.certname}: retries until done, never holds back boot, speaks on the console`, () => {
      const parsed = parseUserData(renderUserData(host));
      expect(iniDoc(fileOf(parsed, conf("systemd/puppet-multisite-boot.service")))).toEqual({
        Unit: {
          Description: `puppet-multisite first boot (${host.role})`,
          Wants: "network-online.target",
          After: "network-online.target",
          ConditionPathExists: "!/var/lib/puppet-multisite/first-boot.done",
          StartLimitIntervalSec: "0",
        },
        Service: {
          Type: "simple",
          ExecStart: `${LIB_DIR}/boot.sh run`,
          Restart: "on-failure",
          RestartSec: "30s",
          StandardOutput: "journal+console",
          StandardError: "journal+console",
        },
        Install: { WantedBy: "multi-user.target" },
      });
      const settings = hostSettings(host);
      expect([settings.BOOT_RETRY_FIRST_SECONDS, settings.BOOT_RETRY_MAX_SECONDS]).toEqual([
        30, 300,
      ]);
      // The SSM agent's keyring: binary, AWS's key only.
      expect(parsed.files.has(conf("ssm-agent.gpg"))).toBe(true);
    });
  }
});

describe("user data limits", () => {
  it("fails, naming the host and the size, when the gzipped document outgrows 16 KB", () => {
    // Random text does not compress, like a real certificate chain.
    const huge = { ...caHost, caCertificatePem: randomBytes(15_000).toString("base64") };
    expect(() => renderUserData(huge)).toThrow(
      /ca\.puppet\.example\.internal is \d+ bytes gzipped, over EC2's 16384-byte limit/,
    );
  });

  const gzippedBytes = (host: HostConfig) =>
    Buffer.from(encodeUserData(renderUserData(host)), "base64").length;

  it("every host's gzipped user data fits with 512 bytes to spare", () => {
    const sizes = ALL_HOSTS.map((host) => ({ host: host.certname, bytes: gzippedBytes(host) }));
    expect(sizes.filter((s) => s.bytes > USER_DATA_LIMIT - 512)).toEqual([]);
  });

  it("the largest standby CA a deployment makes still fits, with 512 bytes to spare", () => {
    // A long domain and site name (in every name, the policy's templates too) and long secret names.
    const domain = `${"a".repeat(40)}.${"b".repeat(40)}.example.internal`;
    const site = `site-${"f".repeat(20)}`;
    const secret = (kind: string) => ({
      name: `${"p".repeat(60)}/site-a/${kind}`,
      region: "ap-southeast-2",
    });
    const certname = `ca.${site}.${domain}`;
    const host: CaHost = {
      ...standbyCaHost,
      certname,
      site,
      domain,
      caServer: `ca.${domain}`,
      dnsAltNames: [certname, `ca.${domain}`],
      peerCas: [`ca.${domain}`],
      serverChallengeSecret: secret("server-challenge"),
      caKeySecret: secret("ca-key"),
      agentChallengeSecret: secret("agent-challenge"),
    };
    expect(gzippedBytes(host)).toBeLessThan(USER_DATA_LIMIT - 512);
  });

  it("the largest master a deployment makes still fits, with 512 bytes to spare", () => {
    // What operators' input adds: a long domain (in every name), the master index of a full pool,
    // long secret names, and an SSH control repository with the three host keys a server offers
    // (random bytes: they do not compress).
    const domain = `${"a".repeat(40)}.${"b".repeat(40)}.example.internal`;
    const certname = `master-250.site-b.${domain}`;
    const keys = [
      `ssh-ed25519 ${randomBytes(51).toString("base64")}`,
      `ecdsa-sha2-nistp256 ${randomBytes(104).toString("base64")}`,
      `ssh-rsa ${randomBytes(407).toString("base64")}`,
    ].map((key) => `[git.${domain}]:2222 ${key}`);
    const base = masterHost("site-b", 250);
    const host: CompileMasterHost = {
      ...base,
      certname,
      domain,
      caServer: `ca.${domain}`,
      dnsAltNames: [certname, `pool.site-b.${domain}`, `puppet.${domain}`],
      puppetdbUrls: base.puppetdbUrls.map((u) => u.replace(DOMAIN, domain)),
      serverChallengeSecret: {
        name: `${"p".repeat(60)}/site-a/server-challenge`,
        region: "ap-southeast-2",
      },
      controlRepo: {
        ...base.controlRepo,
        url: `ssh://git@git.${domain}:2222/platform/puppet/control-repo.git`,
        credentialSecret: {
          name: `${"p".repeat(60)}/control-repo-deploy-key`,
          region: "ap-southeast-2",
        },
        knownHosts: keys,
      },
    };
    expect(gzippedBytes(host)).toBeLessThan(USER_DATA_LIMIT - 512);
  });

  it("renders the same bytes for the same host (no timestamp in the gzip header)", () => {
    expect(renderUserData(caHost)).toBe(renderUserData(caHost));
    const gz = Buffer.from(encodeUserData(renderUserData(caHost)), "base64");
    // RFC 1952: magic 1f 8b, then MTIME in bytes 4-7, zero when there is none.
    expect([gz[0], gz[1], gz.readUInt32LE(4)]).toEqual([0x1f, 0x8b, 0]);
  });

  it("instanceUserData reads back the document from userDataBase64 and from userData", () => {
    const text = renderUserData(caHost);
    expect(instanceUserData({ userDataBase64: encodeUserData(text) })).toBe(text);
    expect(instanceUserData({ userData: text })).toBe(text);
    expect(() => instanceUserData({})).toThrow(/neither userData nor userDataBase64/);
  });
});

describe("decodeUserData", () => {
  const gz = (text: string) => gzipSync(Buffer.from(text)).toString("base64");
  const doc = (files: unknown[], runcmd: unknown[] = []) =>
    `#cloud-config\n${stringify({ write_files: files, runcmd })}`;

  it("gives back every file renderUserData writes, byte for byte, with its mode", () => {
    for (const host of ALL_HOSTS) {
      const decoded = decodeUserData(renderUserData(host));
      const expected = hostFiles(host);
      expect(decoded.files.map((f) => [f.path, f.content, f.permissions])).toEqual(
        expected.map((f) => [f.path, Buffer.from(f.content), f.permissions]),
      );
      expect(decoded.runcmd).toEqual([[`${LIB_DIR}/boot.sh`, "start"]]);
    }
  });

  it.each(["gz+b64", "gzip+base64", "GZ+BASE64", "gzip+b64", "gz+base64"])(
    "decodes %s as cloud-init does",
    (encoding) => {
      const [file] = decodeUserData(doc([{ path: "/x", content: gz("hello\n"), encoding }])).files;
      expect(file.content.toString("utf8")).toBe("hello\n");
    },
  );

  it.each(["b64", "base64"])("decodes %s", (encoding) => {
    const content = Buffer.from("bytes\u0000\n").toString("base64");
    const [file] = decodeUserData(doc([{ path: "/x", content, encoding }])).files;
    expect(file.content).toEqual(Buffer.from("bytes\u0000\n"));
  });

  it("keeps plain text, defaults the mode to 0644 and runs a string command through sh -c", () => {
    const decoded = decodeUserData(
      doc(
        [
          { path: "/x", content: "plain", encoding: "text/plain" },
          { path: "/y", content: "" },
        ],
        ["echo hi"],
      ),
    );
    expect(decoded.files.map((f) => [f.path, f.content.toString(), f.permissions])).toEqual([
      ["/x", "plain", "0644"],
      ["/y", "", "0644"],
    ]);
    expect(decoded.runcmd).toEqual([["sh", "-c", "echo hi"]]);
  });

  it("fails on an encoding cloud-init does not decode, naming the file", () => {
    expect(() => decodeUserData(doc([{ path: "/x", content: "a", encoding: "zstd" }]))).toThrow(
      'write_files /x: encoding "zstd" is not one cloud-init decodes',
    );
  });

  it("fails on user data that is not cloud-config", () => {
    expect(() => decodeUserData("#!/bin/sh\necho hi\n")).toThrow(
      "user data does not start with #cloud-config",
    );
  });
});
