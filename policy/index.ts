// The policy pack of puppet-multisite: `pulumi preview --policy-pack policy`. Constructing a
// PolicyPack serves it to the engine (a gRPC server on a loopback port), so this file does nothing
// else; the rules live in rules.ts, where the tests call them directly.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

new PolicyPack("puppet-multisite", { policies, enforcementLevel: "mandatory" });
