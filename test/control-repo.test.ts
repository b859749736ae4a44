import { describe, expect, it } from "vitest";
import { gitSshPort } from "../infra/control-repo";
import { settings } from "./fixtures";

describe("gitSshPort", () => {
  it.each([
    ["https://git.example.com/puppet/control-repo.git", undefined],
    ["https://git.example.com:8443/puppet/control-repo.git", undefined],
    ["git@git.example.com:puppet/control-repo.git", 22],
    // scp-like syntax has no port: 2222 here is the start of the path.
    ["git@git.example.com:2222/control-repo.git", 22],
    ["ssh://git@git.example.com/puppet/control-repo.git", 22],
    ["ssh://git.example.com/puppet/control-repo.git", 22],
    ["ssh://git@git.example.com:2222/puppet/control-repo.git", 2222],
    ["ssh://git.example.com:2222/x.git", 2222],
    ["ssh://git@git.example.com:1/x.git", 1],
    ["ssh://git@git.example.com:65535/x.git", 65535],
  ])("%s -> %s", (url, port) => {
    expect(gitSshPort(url)).toBe(port);
  });

  it.each([
    "https://git.example.com/puppet/control-repo.git",
    "git@git.example.com:puppet/control-repo.git",
    "ssh://git@git.example.com/puppet/control-repo.git",
    "ssh://deploy@git.example.com:2222/puppet/control-repo.git",
  ])("gives a usable port for every URL settings accepts: %s", (url) => {
    const s = settings("site-a", { controlRepo: { url } });
    const port = gitSshPort(s.controlRepo.url);
    if (url.startsWith("https://")) {
      expect(port).toBeUndefined();
    } else {
      expect(Number.isInteger(port)).toBe(true);
      expect(port).toBeGreaterThanOrEqual(1);
      expect(port).toBeLessThanOrEqual(65535);
    }
  });
});
