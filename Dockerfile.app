# demo-app, the deliberately legacy app lameduck is shown with.  docker build -f Dockerfile.app -t lameduck-demo-app .
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build:image

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY --from=build /src/dist/demo-app ./dist/demo-app
USER node
EXPOSE 3000
# Exec form, so node is PID 1 without a SIGTERM handler: legacy kind (b) of DESIGN.md (SIGTERM ignored until
# SIGKILL) unless the pod sets shareProcessNamespace: true, which makes it kind (a).
ENTRYPOINT ["node", "dist/demo-app/src/main.js"]
