# shellcheck shell=bash
# Certificates and kubeconfigs for the e2e cluster, made fresh at every
# cluster-up with openssl. Sourced by cluster.sh; needs STATE, NODE_NAME,
# NODE_IP, APISERVER_PORT, SERVICE_IP.
#
# Everything is signed by one throwaway CA. Identities follow the names the
# Kubernetes authorizers expect: the kubelet is system:node:<node> in group
# system:nodes (Node authorizer), the controller-manager and scheduler use the
# bootstrap RBAC users, the admin and the apiserver's kubelet client are in
# system:masters.

PKI="${STATE}/pki"

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# sign NAME SUBJECT USAGE [SAN]: key + cert NAME.{key,crt} signed by the CA.
# USAGE is serverAuth, clientAuth or "serverAuth,clientAuth".
sign() {
  local name="$1" subject="$2" usage="$3" san="${4:-}" ext="${PKI}/$1.ext"
  new_key "${PKI}/${name}.key"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=${usage}"
    [[ -z "${san}" ]] || echo "subjectAltName=${san}"
  } > "${ext}"
  openssl req -new -key "${PKI}/${name}.key" -subj "${subject}" -out "${PKI}/${name}.csr" 2>/dev/null
  openssl x509 -req -in "${PKI}/${name}.csr" -CA "${PKI}/ca.crt" -CAkey "${PKI}/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 30 -extfile "${ext}" -out "${PKI}/${name}.crt" 2>/dev/null
  rm -f "${PKI}/${name}.csr" "${ext}"
}

# kubeconfig FILE USER: a self-contained kubeconfig (certs inlined) for USER's cert.
kubeconfig() {
  local file="$1" user="$2"
  cat > "${file}" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: k8sq-e2e
  cluster:
    server: https://127.0.0.1:${APISERVER_PORT}
    certificate-authority-data: $(base64 -w0 < "${PKI}/ca.crt")
users:
- name: ${user}
  user:
    client-certificate-data: $(base64 -w0 < "${PKI}/${user}.crt")
    client-key-data: $(base64 -w0 < "${PKI}/${user}.key")
contexts:
- name: k8sq-e2e
  context:
    cluster: k8sq-e2e
    user: ${user}
    namespace: default
current-context: k8sq-e2e
KUBECONFIG
  chmod 600 "${file}"
}

make_pki() {
  mkdir -p "${PKI}"
  chmod 700 "${PKI}"
  new_key "${PKI}/ca.key"
  openssl req -x509 -new -key "${PKI}/ca.key" -subj "/CN=k8sq-e2e-ca" -days 30 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "${PKI}/ca.crt" 2>/dev/null

  sign apiserver "/CN=kube-apiserver" serverAuth \
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:${SERVICE_IP},IP:${NODE_IP}"
  sign admin "/O=system:masters/CN=k8sq-admin" clientAuth
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  sign controller-manager "/CN=system:kube-controller-manager" clientAuth
  sign scheduler "/CN=system:kube-scheduler" clientAuth
  sign kubelet "/O=system:nodes/CN=system:node:${NODE_NAME}" clientAuth
  sign kubelet-serving "/CN=${NODE_NAME}" serverAuth "DNS:${NODE_NAME},IP:${NODE_IP},IP:127.0.0.1"

  # Service-account tokens are signed with this key pair (RSA: RS256 is what
  # every client library expects of Kubernetes tokens).
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "${PKI}/sa.key" 2>/dev/null
  openssl pkey -in "${PKI}/sa.key" -pubout -out "${PKI}/sa.pub" 2>/dev/null

  kubeconfig "${STATE}/kubeconfig" admin
  kubeconfig "${PKI}/controller-manager.kubeconfig" controller-manager
  kubeconfig "${PKI}/scheduler.kubeconfig" scheduler
  kubeconfig "${PKI}/kubelet.kubeconfig" kubelet
}
