import { describe, expect, it } from "vitest";
import { POSTGRES_PORT, PUPPETDB_PORT, PUPPET_PORT } from "../infra/ports";

describe("ports", () => {
  it("are Puppet's, PuppetDB's and PostgreSQL's defaults: 8140, 8081, 5432", () => {
    expect([PUPPET_PORT, PUPPETDB_PORT, POSTGRES_PORT]).toEqual([8140, 8081, 5432]);
  });
});
