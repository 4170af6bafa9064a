# shellcheck shell=sh
# Sourced by ci/gitlab/fleetform.gitlab-ci.yml: turns the job's GitLab ID tokens (`id_tokens:`)
# into the environment the Pulumi CLI, the cloud providers, the state backends (s3://, gs://,
# azblob://) and the secrets providers (awskms://, gcpkms://, azurekeyvault://) read. No stored
# cloud key is involved: each token is short-lived and exchanged by the cloud's own SDK.
#
# FLEETFORM_ACCESS=readonly (merge-request previews, drift) or deploy (pulumi up) picks the
# identity; a cloud whose variable for that identity is empty is skipped.
#   AWS:   AWS_READONLY_ROLE_ARN / AWS_DEPLOY_ROLE_ARN, token AWS_OIDC_TOKEN (aud sts.amazonaws.com).
#          AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE is the SDKs' web-identity credential source
#          (https://docs.aws.amazon.com/sdkref/latest/guide/feature-assume-role-credentials.html).
#   GCP:   GCP_WORKLOAD_IDENTITY_PROVIDER (projects/N/locations/global/workloadIdentityPools/P/
#          providers/R), GCP_READONLY_SERVICE_ACCOUNT / GCP_DEPLOY_SERVICE_ACCOUNT, token
#          GCP_OIDC_TOKEN: an external_account credential file for Application Default Credentials
#          (https://cloud.google.com/iam/docs/workload-identity-federation-with-deployment-pipelines).
#   Azure: AZURE_TENANT_ID, AZURE_SUBSCRIPTION_ID, AZURE_READONLY_CLIENT_ID / AZURE_DEPLOY_CLIENT_ID,
#          token AZURE_OIDC_TOKEN (aud api://AzureADTokenExchange). ARM_* for the azure-native
#          provider (https://www.pulumi.com/docs/esc/providers/login/azure-login/), AZURE_* with a
#          token file for the azblob backend and Key Vault, which use the Azure SDK's
#          DefaultAzureCredential (https://www.pulumi.com/docs/iac/operations/stack-management/using-a-diy-backend/#azure-blob-storage).

_ff_dir=$(mktemp -d "${TMPDIR:-/tmp}/fleetform-oidc.XXXXXX")
chmod 700 "$_ff_dir"

case "${FLEETFORM_ACCESS:-readonly}" in
  deploy)
    _ff_aws_role=${AWS_DEPLOY_ROLE_ARN:-}
    _ff_gcp_sa=${GCP_DEPLOY_SERVICE_ACCOUNT:-}
    _ff_az_client=${AZURE_DEPLOY_CLIENT_ID:-}
    ;;
  readonly)
    _ff_aws_role=${AWS_READONLY_ROLE_ARN:-}
    _ff_gcp_sa=${GCP_READONLY_SERVICE_ACCOUNT:-}
    _ff_az_client=${AZURE_READONLY_CLIENT_ID:-}
    ;;
  *)
    echo "oidc-env.sh: FLEETFORM_ACCESS must be readonly or deploy, got ${FLEETFORM_ACCESS}" >&2
    return 1
    ;;
esac

if [ -n "$_ff_aws_role" ] && [ -n "${AWS_OIDC_TOKEN:-}" ]; then
  printf '%s' "$AWS_OIDC_TOKEN" > "$_ff_dir/aws.jwt"
  export AWS_ROLE_ARN="$_ff_aws_role"
  export AWS_WEB_IDENTITY_TOKEN_FILE="$_ff_dir/aws.jwt"
  export AWS_ROLE_SESSION_NAME="fleetform-gitlab-${CI_JOB_ID:-job}"
  echo "oidc-env.sh: AWS web identity for ${AWS_ROLE_ARN}"
fi

if [ -n "$_ff_gcp_sa" ] && [ -n "${GCP_OIDC_TOKEN:-}" ] && [ -n "${GCP_WORKLOAD_IDENTITY_PROVIDER:-}" ]; then
  printf '%s' "$GCP_OIDC_TOKEN" > "$_ff_dir/gcp.jwt"
  cat > "$_ff_dir/gcp.json" <<EOF
{
  "type": "external_account",
  "audience": "//iam.googleapis.com/${GCP_WORKLOAD_IDENTITY_PROVIDER}",
  "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
  "token_url": "https://sts.googleapis.com/v1/token",
  "credential_source": {"file": "$_ff_dir/gcp.jwt"},
  "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/${_ff_gcp_sa}:generateAccessToken"
}
EOF
  export GOOGLE_APPLICATION_CREDENTIALS="$_ff_dir/gcp.json"
  echo "oidc-env.sh: Google Cloud workload identity federation as ${_ff_gcp_sa}"
fi

if [ -n "$_ff_az_client" ] && [ -n "${AZURE_OIDC_TOKEN:-}" ]; then
  printf '%s' "$AZURE_OIDC_TOKEN" > "$_ff_dir/azure.jwt"
  export ARM_USE_OIDC=true ARM_CLIENT_ID="$_ff_az_client" ARM_TENANT_ID="${AZURE_TENANT_ID:-}"
  # The token file, not only ARM_OIDC_TOKEN: fleetform hands it to kubelogin (--federated-token-file)
  # for AKS kubeconfigs (docs/targets.md, "Which identity").
  export ARM_SUBSCRIPTION_ID="${AZURE_SUBSCRIPTION_ID:-}" ARM_OIDC_TOKEN="$AZURE_OIDC_TOKEN"
  export ARM_OIDC_TOKEN_FILE_PATH="$_ff_dir/azure.jwt"
  export AZURE_CLIENT_ID="$_ff_az_client" AZURE_FEDERATED_TOKEN_FILE="$_ff_dir/azure.jwt"
  echo "oidc-env.sh: Azure federated credential for client ${_ff_az_client}"
fi

unset _ff_aws_role _ff_gcp_sa _ff_az_client
