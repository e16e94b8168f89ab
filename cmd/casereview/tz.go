package main

import (
	"time"
	_ "time/tzdata" // Europe/London must resolve on machines without zoneinfo
)

func londonTZ() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err) // unreachable: time/tzdata is linked in
	}
	return l
}
