package apiserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Authenticator accepts client certificates signed by the cluster CA (verified by the TLS
// handshake, see TLSConfig), the join token, and
// service-account tokens this server issued. Every authenticated user may do everything: skiff
// does not enforce RBAC yet.
type Authenticator struct {
	// CAPool verifies client certificates during the handshake.
	CAPool *x509.CertPool
	Token  string
	SAKey  *ecdsa.PrivateKey
}

// Authenticate implements Config.Authenticate.
func (a *Authenticator) Authenticate(r *http.Request) (authenticationv1.UserInfo, bool) {
	// The TLS handshake verified client certificates against the cluster CA once per connection
	// (tls.VerifyClientCertIfGiven); a verified chain here is an authenticated user, its groups
	// the certificate's organizations.
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		subject := r.TLS.VerifiedChains[0][0].Subject
		groups := append(append([]string(nil), subject.Organization...), authenticatedGroup)
		return authenticationv1.UserInfo{Username: subject.CommonName, Groups: groups}, true
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "Bearer ") {
		return authenticationv1.UserInfo{}, false
	}
	u, _, ok := a.AuthenticateToken(strings.TrimSpace(strings.TrimPrefix(auth, "Bearer ")))
	return u, ok
}

// authenticatedGroup is the group every authenticated user is in, as upstream.
const authenticatedGroup = "system:authenticated"

// AuthenticateToken accepts the join token and the service-account tokens this server issued,
// returning the user and the audiences the token is meant for.
func (a *Authenticator) AuthenticateToken(tok string) (authenticationv1.UserInfo, []string, bool) {
	if a.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(a.Token)) == 1 {
		return authenticationv1.UserInfo{Username: "system:node", Groups: []string{"system:nodes", authenticatedGroup}}, []string{apiAudience}, true
	}
	if a.SAKey != nil {
		if c, err := verifyJWT(tok, &a.SAKey.PublicKey, time.Now()); err == nil {
			return serviceAccountUser(c.Subject), c.Audience, true
		}
	}
	return authenticationv1.UserInfo{}, nil, false
}

// serviceAccountUser is the user a service-account token's subject names, with the groups
// upstream gives service accounts.
func serviceAccountUser(subject string) authenticationv1.UserInfo {
	u := authenticationv1.UserInfo{Username: subject}
	if rest, ok := strings.CutPrefix(subject, "system:serviceaccount:"); ok {
		if ns, _, ok := strings.Cut(rest, ":"); ok {
			u.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}
		}
	}
	u.Groups = append(u.Groups, authenticatedGroup)
	return u
}

// apiAudience is the audience of the API server's own tokens.
const apiAudience = "https://kubernetes.default.svc.cluster.local"

type jwtClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud"`
	Expiry    int64    `json:"exp"`
	NotBefore int64    `json:"nbf"`
	IssuedAt  int64    `json:"iat"`
}

var b64 = base64.RawURLEncoding

// signJWT makes an ES256 JWT; service-account tokens need nothing more.
func signJWT(key *ecdsa.PrivateKey, c jwtClaims) (string, error) {
	header := b64.EncodeToString([]byte(`{"alg":"ES256","typ":"JWT"}`))
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signing := header + "." + b64.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signing))
	rr, ss, err := ecdsa.Sign(randReader{}, key, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	sig := make([]byte, 64)
	rr.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return signing + "." + b64.EncodeToString(sig), nil
}

func verifyJWT(tok string, pub *ecdsa.PublicKey, now time.Time) (jwtClaims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return jwtClaims{}, fmt.Errorf("not a JWT")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return jwtClaims{}, fmt.Errorf("bad signature encoding")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return jwtClaims{}, fmt.Errorf("bad signature")
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return jwtClaims{}, err
	}
	var c jwtClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return jwtClaims{}, err
	}
	if c.Expiry != 0 && now.Unix() > c.Expiry {
		return jwtClaims{}, fmt.Errorf("token expired")
	}
	return c, nil
}

// serveToken answers serviceaccounts/{name}/token with a signed token (TokenRequest).
func (s *Server) serveToken(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo) {
	if r.Method != http.MethodPost || s.cfg.ServiceAccountKey == nil {
		writeError(w, apierrors.NewMethodNotSupported(corev1.Resource("serviceaccounts/token"), r.Method))
		return
	}
	sah := s.byGR[corev1.Resource("serviceaccounts")]
	if _, err := sah.storage.Get(ctx, ri.namespace+"/"+ri.name); err != nil {
		writeError(w, err)
		return
	}
	var tr authenticationv1.TokenRequest
	if !s.codecs.readOptionsBody(w, r, http.MethodPost, corev1.Resource("serviceaccounts/token"), &tr) {
		return
	}
	exp := int64(3600)
	if tr.Spec.ExpirationSeconds != nil && *tr.Spec.ExpirationSeconds >= 600 {
		exp = *tr.Spec.ExpirationSeconds
	}
	now := time.Now()
	aud := tr.Spec.Audiences
	if len(aud) == 0 {
		aud = []string{apiAudience}
	}
	tok, err := signJWT(s.cfg.ServiceAccountKey, jwtClaims{Issuer: "https://kubernetes.default.svc.cluster.local",
		Subject: "system:serviceaccount:" + ri.namespace + ":" + ri.name, Audience: aud, IssuedAt: now.Unix(), NotBefore: now.Unix(),
		Expiry: now.Add(time.Duration(exp) * time.Second).Unix()})
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	tr.TypeMeta = metav1.TypeMeta{Kind: "TokenRequest", APIVersion: "authentication.k8s.io/v1"}
	tr.Name, tr.Namespace = ri.name, ri.namespace
	tr.Spec.Audiences = aud
	tr.Spec.ExpirationSeconds = &exp
	tr.Status = authenticationv1.TokenRequestStatus{Token: tok, ExpirationTimestamp: metav1.NewTime(now.Add(time.Duration(exp) * time.Second))}
	writeJSON(w, http.StatusCreated, tr)
}
