#!/usr/bin/env node
// Entry point: runs the TypeScript CLI through tsx's loader, so `npx hearth` and `npm link` work from a checkout.
import { register } from "tsx/esm/api";
register();
await import("../src/cli/main.ts");
