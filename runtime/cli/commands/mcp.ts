/**
 * `glimmer mcp --url URL [--token-file FILE]`: the MCP server on stdio for a local client, relaying to the runtime's
 * MCP endpoint with one access token (from --token-file, else GLIMMER_MCP_TOKEN). Nothing but MCP is written to stdout.
 */
import fs from 'node:fs';
import { GlimmerError } from '../../errors';
import { parseOptions, printHelp, type Command } from '../command';

const USAGE = `Usage: glimmer mcp --url URL [--token-file FILE]
  --url URL          the runtime's MCP endpoint (the mcp.resource of its configuration), e.g. http://127.0.0.1:8080/mcp
  --token-file FILE  an OAuth access token for that resource (default: the GLIMMER_MCP_TOKEN environment variable)`;

const command: Command = async (argv) => {
  const values = parseOptions(argv, { url: { type: 'string' }, 'token-file': { type: 'string' }, help: { type: 'boolean', default: false } });
  if (values.help) return printHelp(USAGE);
  if (values.url === undefined) throw new GlimmerError('GLM_ERR_USAGE', `--url is required\n${USAGE}`);
  const token = (values['token-file'] !== undefined ? fs.readFileSync(values['token-file'], 'utf8') : (process.env.GLIMMER_MCP_TOKEN ?? '')).trim();
  if (token === '') throw new GlimmerError('GLM_ERR_USAGE', 'no access token: pass --token-file FILE or set GLIMMER_MCP_TOKEN');
  const { serveStdio } = await import('../../api/mcp/stdio');
  const relay = await serveStdio({ url: values.url, token });
  await relay.closed;
  return 0;
};

export default command;
