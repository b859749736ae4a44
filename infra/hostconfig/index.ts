// Host configuration of the deployment: pure functions from plain host settings to cloud-init user
// data and configuration file text. No Pulumi here, so the lab and the tests render exactly what
// EC2 instances receive.
export * from "./types";
export {
  decodeUserData,
  DecodedUserData,
  encodeUserData,
  instanceUserData,
  renderUserData,
  USER_DATA_LIMIT,
  UserDataFile,
} from "./userdata";
export { renderAgentConfig, renderServerPuppetConf, HTTP_CONNECT_TIMEOUT } from "./puppetconf";
export { hostFiles, hostSettings, HostFile } from "./files";
export { ALLOWLIST_REFRESH_MINUTES } from "./units";
export { ALL_SCRIPTS, BOOT_COMMAND, SCRIPTS_DIR, roleScript } from "./scripts";
export { CONF_DIR, LIB_DIR, STATE_DIR } from "./paths";
