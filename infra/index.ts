// Entry point of `pulumi up`: the exported function's result becomes the stack's outputs.
import { main } from "./program";

export = main;
