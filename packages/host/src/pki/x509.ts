/**
 * The one entry point to `@peculiar/x509` in the Host.
 *
 * `@peculiar/x509` 2.x needs the `reflect-metadata` polyfill loaded before it (its DI container
 * throws otherwise) and a WebCrypto provider; importing the library through this module
 * guarantees both, whatever the importer's own import order.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { webcrypto } from "node:crypto";

// Node's WebCrypto types differ from the DOM's (which an XML dependency pulls into the program)
// only in key usages @peculiar/x509 never reads.
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
