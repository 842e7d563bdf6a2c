package access

import "net/http"

// RequireOperator lets a request through only with a valid operator token: roomCreate and
// roomList grants, which `atrium token create --operator` mints. It answers 401 or 403 itself
// and returns false otherwise. Node and gateway admin endpoints (/admin/cluster, /admin/drain)
// share it, so an operator's token works on every role.
func RequireOperator(w http.ResponseWriter, r *http.Request, keys Keys) bool {
	grants, err := Verify(TokenFromRequest(r), keys)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return false
	}
	if grants.Video == nil || !grants.Video.RoomCreate || !grants.Video.RoomList {
		http.Error(w, "this call needs an operator token (roomCreate and roomList grants)", http.StatusForbidden)
		return false
	}
	return true
}
