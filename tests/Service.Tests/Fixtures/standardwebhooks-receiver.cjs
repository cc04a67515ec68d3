// A webhook receiver that checks signatures with the Standard Webhooks reference implementation (npm
// "standardwebhooks"), not with any code of this project. Usage: node standardwebhooks-receiver.cjs <module dir> <secret>...
// Prints "listening <port>", then one JSON line per request: its webhook-id and, per secret, whether it verified.
// Answers 204 when at least one secret verifies, else 401.
const http = require("http");
const { Webhook } = require(process.argv[2]);
const secrets = process.argv.slice(3);

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const verified = secrets.map((secret) => {
      try {
        new Webhook(secret).verify(body, req.headers);
        return true;
      } catch (e) {
        return false;
      }
    });
    console.log(JSON.stringify({ id: req.headers["webhook-id"], signature: req.headers["webhook-signature"], verified }));
    res.statusCode = verified.some((v) => v) ? 204 : 401;
    res.end();
  });
});
server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
