import { decodeJwt, decodeProtectedHeader } from "jose";
import { startOidcIdp, cliClientId } from "./oidc-idp.ts";
import { loginWithAuthorizationCode, loginWithDeviceCode } from "../../packages/cli/src/oidc-login.ts";
const idp = await startOidcIdp();
const t0 = Date.now();
const result = await loginWithAuthorizationCode({ issuer: idp.issuer, clientId: cliClientId, allowInsecureLoopback: true, timeoutSeconds: 10, scopes: "openid profile email groups aesp" }, {
  print: (l) => console.log("PRINT", l),
  openBrowser: async (url) => { const back = await idp.loginHeadless(url, { login: "alice" }); console.log("back", back); const r = await fetch(back); console.log(r.status, await r.text()); },
});
console.log(decodeProtectedHeader(result.idToken), decodeJwt(result.idToken), result.accessToken.slice(0, 20), Date.now() - t0);
const cc = await idp.issueClientCredentialsToken();
console.log(decodeProtectedHeader(cc), decodeJwt(cc));
const dev = await loginWithDeviceCode({ issuer: idp.issuer, clientId: cliClientId, allowInsecureLoopback: true, timeoutSeconds: 20 }, {
  print: (l) => console.log("PRINT", l),
  showDeviceCode: (p) => { void idp.approveDeviceHeadless(p.verificationUri, p.userCode, { login: "bob" }).then(() => console.log("approved"), (e) => console.log("approve failed", e)); },
});
console.log(decodeJwt(dev.idToken), Date.now() - t0);
await idp.stop();
