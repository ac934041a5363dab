# The Kbl image (the silo, and the Provisioner under /app/provisioner): `docker build -t kbl-silo .` from the repository root.
#
# NOT BUILT HERE: the machine this was written on has no Docker engine, so this file has never been run. It is
# kept to the standard two-stage shape (SDK to publish, ASP.NET Core runtime to run) so that it works as written;
# build it once on a machine with Docker before relying on it (docs/deploy-eks.md).
#
# global.json pins the SDK to 10.0.401 or a later feature band: the sdk:10.0 image must carry one.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files only, so a source change does not re-download packages.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/Api/Api.csproj src/Api/
COPY src/Grains.Interfaces/Grains.Interfaces.csproj src/Grains.Interfaces/
COPY src/Configuration/Configuration.csproj src/Configuration/
COPY src/Grains/Grains.csproj src/Grains/
COPY src/Persistence/Persistence.csproj src/Persistence/
COPY src/Persistence.Sqlite/Persistence.Sqlite.csproj src/Persistence.Sqlite/
COPY src/Persistence.DynamoDb/Persistence.DynamoDb.csproj src/Persistence.DynamoDb/
COPY src/NodeGroups/NodeGroups.csproj src/NodeGroups/
COPY src/Provisioner/Provisioner.csproj src/Provisioner/
COPY src/Silo/Silo.csproj src/Silo/
RUN dotnet restore src/Silo/Silo.csproj && dotnet restore src/Provisioner/Provisioner.csproj
COPY protos/ protos/
COPY src/ src/
RUN dotnet publish src/Silo/Silo.csproj -c Release -o /app --no-restore
# The Provisioner (k8s/base/provisioner) runs from the same image: `dotnet /app/provisioner/Kbl.Provisioner.dll`.
RUN dotnet publish src/Provisioner/Provisioner.csproj -c Release -o /app/provisioner --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
# The local store's default home; in Kubernetes a persistent volume is mounted here (Kbl__DataPath).
RUN mkdir -p /var/lib/kbl && chown "$APP_UID" /var/lib/kbl
COPY --from=build /app .
# The non-root "app" user the .NET images define (UID 1654).
USER $APP_UID
ENV ASPNETCORE_URLS=http://0.0.0.0:8080 \
    Kbl__Gateway__GrpcPort=8081 \
    Kbl__DataPath=/var/lib/kbl
# HTTP/JSON, gRPC (h2c), Orleans silo-to-silo, Orleans client gateway.
EXPOSE 8080 8081 11111 30000
ENTRYPOINT ["dotnet", "Kbl.Silo.dll"]
