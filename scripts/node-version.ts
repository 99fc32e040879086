// Fails fast when the scripts are not running on the Node the project brings (or another >= 22.19).
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
if (major < 22 || (major === 22 && minor < 19)) {
  console.error(`effect-tls needs Node >= 22.19, this is ${process.version}: run the set-up command from the README`)
  process.exit(1)
}
console.log(`node ${process.version}, OpenSSL ${process.versions.openssl}`)
