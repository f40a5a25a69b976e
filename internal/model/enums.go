// Package model holds the small value types shared by the ent schema, the
// domain and the GraphQL layer: enums whose names are part of the API contract.
package model

import (
	"fmt"
	"io"
	"strconv"
)

// App is one of the two WeChat mini-programs.
type App string

const (
	AppCustomer App = "CUSTOMER"
	AppSeller   App = "SELLER"
)

// Values lists the enum values for ent.
func (App) Values() []string { return []string{string(AppCustomer), string(AppSeller)} }

// Valid reports whether a is a known app.
func (a App) Valid() bool { return a == AppCustomer || a == AppSeller }

func (a App) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(a))) }

func (a *App) UnmarshalGQL(v any) error { return unmarshalEnum(v, a, App.Valid, "App") }

// Role is what a user may do; computed from current state on every request.
type Role string

const (
	RoleCustomer Role = "CUSTOMER"
	RoleSeller   Role = "SELLER"
	RoleAdmin    Role = "ADMIN"
)

func (r Role) Valid() bool { return r == RoleCustomer || r == RoleSeller || r == RoleAdmin }

func (r Role) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(r))) }

func (r *Role) UnmarshalGQL(v any) error { return unmarshalEnum(v, r, Role.Valid, "Role") }

// TicketStatus is where a ticket is in its life.
type TicketStatus string

const (
	StatusWaiting   TicketStatus = "WAITING"
	StatusCalled    TicketStatus = "CALLED"
	StatusDone      TicketStatus = "DONE"
	StatusCancelled TicketStatus = "CANCELLED"
	StatusNoShow    TicketStatus = "NO_SHOW"
)

// Values lists the enum values for ent.
func (TicketStatus) Values() []string {
	return []string{string(StatusWaiting), string(StatusCalled), string(StatusDone), string(StatusCancelled), string(StatusNoShow)}
}

// Active reports whether a ticket in this status holds its number.
func (s TicketStatus) Active() bool { return s == StatusWaiting || s == StatusCalled }

func (s TicketStatus) Valid() bool {
	for _, v := range s.Values() {
		if string(s) == v {
			return true
		}
	}
	return false
}

func (s TicketStatus) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(s))) }

func (s *TicketStatus) UnmarshalGQL(v any) error {
	return unmarshalEnum(v, s, TicketStatus.Valid, "TicketStatus")
}

func unmarshalEnum[T ~string](v any, dst *T, valid func(T) bool, name string) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("%s must be a string", name)
	}
	if !valid(T(s)) {
		return fmt.Errorf("%q is not a valid %s", s, name)
	}
	*dst = T(s)
	return nil
}
