# Build stage: compile TypeScript with the image's Node 24 (the `node` devDependency is for
# machines whose own Node is older; install scripts are skipped so it is not fetched here).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
COPY web ./web
COPY scripts/build-web.js ./scripts/
# The verifier page is bundled (esbuild, a devDependency) before the dev dependencies are pruned.
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json \
 && node scripts/build-web.js \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# Runtime stage: only production dependencies and the compiled code, as a non-root user.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
RUN groupadd --system certchain \
 && useradd --system --gid certchain --home-dir /data --shell /usr/sbin/nologin certchain \
 && mkdir -p /data /net && chown certchain:certchain /data /net
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
USER certchain
VOLUME ["/data"]
EXPOSE 26656 26657
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:26657/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/certchain.js"]
CMD ["start", "--home", "/data", "--rpc-host", "0.0.0.0"]
