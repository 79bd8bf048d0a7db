/**
 * The README's nginx in front of a cluster: round robin over the instances, no affinity, buffering off (SSE),
 * HTTP/1.1 kept alive to the upstreams, and a request never retried on another upstream. Shared by the cluster
 * tests and the soak's cluster mode.
 */

export interface NginxConfigOptions {
  /**
   * Adds an `X-Upstream` header naming the instance that answered (`127.0.0.1:PORT`): a driver can then tell
   * which instance owns a session it opened.
   */
  readonly upstreamHeader?: boolean
  /** A file every request is logged to: when, status, the instance that answered, method, URI, session id. */
  readonly accessLog?: string | undefined
}

/** The README's configuration, for a temporary prefix. */
export const nginxConfig = (
  prefix: string,
  port: number,
  upstreams: ReadonlyArray<number>,
  options: NginxConfigOptions = {}
): string => `
daemon off;
master_process off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
${
  options.accessLog === undefined
    ? "  access_log off;"
    : `  log_format mcp '$msec $status $upstream_addr $request_method $request_uri $http_mcp_session_id $request_time';\n` +
      `  access_log ${options.accessLog} mcp;`
}
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  upstream mcp {
${upstreams.map((upstream) => `    server 127.0.0.1:${upstream};`).join("\n")}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://mcp;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_cache off;
      proxy_read_timeout 1h;
      proxy_next_upstream off;
${options.upstreamHeader === true ? "      add_header X-Upstream $upstream_addr always;\n" : ""}    }
  }
}
`

