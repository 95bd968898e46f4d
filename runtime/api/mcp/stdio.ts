/**
 * `glimmer mcp`: the MCP server on stdio for a local client (an IDE or desktop assistant that starts its servers as
 * child processes). It holds no plant access of its own: it relays each tools and resources request to the runtime's
 * streamable HTTP endpoint as one client with one access token, so the calls meet the same token validation, Cedar
 * decision, write decision, rate limit and audit as any remote client. The token's audience is that endpoint; it is
 * sent nowhere else.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListResourcesRequestSchema, ListToolsRequestSchema, ReadResourceRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { GlimmerError, asGlimmerError, quote } from '../../errors';

export interface StdioRelay {
  /** Resolves when stdin closes (the local client went away). */
  readonly closed: Promise<void>;
}

export async function serveStdio(options: { url: string; token: string; version?: string }): Promise<StdioRelay> {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new GlimmerError('GLM_ERR_USAGE', `--url must be the runtime's MCP endpoint URL, received ${quote(options.url)}`);
  }
  const remote = new Client({ name: 'glimmer-mcp-stdio', version: options.version ?? '0.1.0' });
  try {
    await remote.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${options.token}` } } }));
  } catch (err) {
    throw new GlimmerError('GLM_ERR_MCP_TOKEN_INVALID', `the runtime at ${url.origin} refused the connection: ${(err as Error).message.slice(0, 300)}`);
  }
  const server = new Server({ name: 'glimmer', version: options.version ?? '0.1.0' }, { capabilities: { tools: {}, resources: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => remote.listTools());
  // Resource errors stay JSON-RPC errors (the SDK client rethrows them here with the runtime's message).
  server.setRequestHandler(ListResourcesRequestSchema, async () => remote.listResources());
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => remote.readResource({ uri: request.params.uri }));
  server.setRequestHandler(CallToolRequestSchema, async (request): Promise<CallToolResult> => {
    try {
      return (await remote.callTool({ name: request.params.name, arguments: request.params.arguments })) as CallToolResult;
    } catch (err) {
      const e = asGlimmerError(err);
      const message = e.code === 'GLM_ERR_INTERNAL' ? `the runtime did not answer: ${(err as Error).message.slice(0, 200)}` : e.message;
      return { isError: true, content: [{ type: 'text', text: `${e.code}: ${message}` }], structuredContent: { error: { code: e.code, message } } };
    }
  });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  void closed.finally(() => remote.close().catch(() => undefined));
  return { closed };
}
